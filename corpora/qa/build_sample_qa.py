"""Regenerate corpora/qa/sample-qa.json from the documents in corpora/docs.

Questions, answers and the passages that hold them are listed here; contexts and
answer_start offsets are computed, so a pypdf upgrade that changes page text only
needs a rerun (then run verify_sample_qa.py). Needs pypdf.
"""

import json
import re
from pathlib import Path

import pypdf

HERE = Path(__file__).resolve().parent
D = str(HERE.parent / "docs") + "/"
pdf_pages = [p.extract_text().rstrip() for p in pypdf.PdfReader(D + "R-intro.pdf").pages]

def paras(name):
    text = open(D + name, encoding="utf-8").read()
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]

def para_with(name, needle):
    hits = [p for p in paras(name) if needle in p]
    assert len(hits) == 1, (name, needle, len(hits))
    return hits[0]

# (question, answer or None, anchor containing the answer (None: answer itself))
PDF = [
 (23, "How many tax accountants are in the sample used to illustrate factors?", "30", "sample of 30 tax"),
 (8, "Who developed the S language at Bell Laboratories?", "Rick Becker, John Chambers and Allan Wilks", None),
 (51, "Which Matlab command does the second example function imitate?", "backslash", "Matlab backslash"),
 (11, "What is the approximate length limit of a command line typed at the console?", "4095 bytes", None),
 (12, "Which file holds the command lines from a saved R session?", ".Rhistory", None),
 (14, "How many entries does the vector y built from two copies of x and a zero have?", "11", "with 11 entries"),
 (98, "At the Windows command line, which program is preferred to R?", "Rterm.exe", None),
 (90, "Which namespace operator also lets you reach hidden objects?", "triple-colon operator", None),
 (99, "Which option starts R without saving, restoring or reading any startup files?", "--vanilla", "--vanilla\n"),
 (113, "Which book by Becker, Chambers and Wilks is nicknamed the Blue Book?", "The New S Language", None),
 (98, "What is the default value of R_PAPERSIZE?", None, None),
]
TXT = [
 ("John McCormack", "Who is the new Speaker addressed at the start of the speech?", "John McCormack", None),
 ("stumbling horse", "How many major surplus labor areas were left after the decline?", "60", "to 60"),
 ("stumbling horse", "What did Khrushchev once call the American economy?", "stumbling horse", None),
 ("8 percent tax credit", "How large a tax credit for investment in machinery and equipment does the President ask for?", "8 percent", None),
 ("functionally illiterate", "How many adult Americans are functionally illiterate?", "Eight million", None),
 ("H. G. Wells", "Who called civilization a race between education and catastrophe?", "H. G. Wells", None),
 ("155,000", "How many Reserve and National Guard members were called up?", "155,000", None),
 ("Peace Corps is winning", "In how many countries is the Peace Corps at work?", "fourteen", None),
 ("Charles Lindbergh", "On what date does the President expect the first American to land on the moon?", None, None),
]
MD = [
 ("first production batch", "When did the first production TL-7 loggers leave the workshop?", "14 March 2019", None),
 ("first production batch", "Who was the lead designer of the TL-7?", "Ingrid Halvorsen", None),
 ("610 grams", "How heavy is the TL-7 with its batteries in?", "610 grams", None),
 ("two CR123A lithium cells", "How long does a new pair of batteries last at the default sampling interval?", "about 14 months", None),
 ("fast red flashing", "What does rapid red flashing of the status light mean?", "the memory is full", None),
 ("lowest astronomical tide", "How far below the lowest astronomical tide should the sensor be mounted?", "at least 0.5 metres", None),
 ("calibrated every", "How often does the TL-7 need calibrating?", "every 24 months", None),
 ("3-year warranty", "How much does a replacement DK-2 dock cost?", None, None),
 ("titanium diaphragm. With", "What is the highest water temperature the TL-7 can work in?", None, None),
]

def qa(qid, q, ans, anchor, ctx, page):
    if ans is None:
        return {"id": qid, "question": q, "answers": [], "is_impossible": True, "page": page}
    a = anchor or ans
    assert ctx.count(a) == 1, (qid, a, ctx.count(a))
    start = ctx.index(a) + a.index(ans)
    return {"id": qid, "question": q, "answers": [{"text": ans, "answer_start": start}],
            "is_impossible": False, "page": page}

def article(title, items):
    paragraphs = {}
    for qid, q, ans, anchor, ctx, page in items:
        paragraphs.setdefault(ctx, []).append(qa(qid, q, ans, anchor, ctx, page))
    return {"title": title, "paragraphs": [{"context": c, "qas": v} for c, v in paragraphs.items()]}

data = [
 article("R-intro.pdf", [(f"rintro-{i+1:02d}", q, a, an, pdf_pages[p-1], p) for i, (p, q, a, an) in enumerate(sorted(PDF, key=lambda t: t[0]))]),
 article("sotu-1962-kennedy.txt", [(f"sotu1962-{i+1:02d}", q, a, an, para_with("sotu-1962-kennedy.txt", n), 1) for i, (n, q, a, an) in enumerate(TXT)]),
 article("tl7-tide-logger-manual.md", [(f"tl7-{i+1:02d}", q, a, an, para_with("tl7-tide-logger-manual.md", n), 1) for i, (n, q, a, an) in enumerate(MD)]),
]
with open(HERE / "sample-qa.json", "w", encoding="utf-8") as f:
    json.dump({"version": "v2.0", "data": data}, f, ensure_ascii=False, indent=1)
    f.write("\n")
print("wrote", HERE / "sample-qa.json")
