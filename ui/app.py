"""Entry point of the web app: `streamlit run ui/app.py` (what `make run` starts).

Everything is in `ui.main`; the pages are under `ui/views/`.
"""

from ui.main import main

main()
