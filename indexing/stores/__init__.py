"""Vector stores: chunks with their vectors plus a registry of completely indexed documents.

`InMemoryStore` is the exact reference (and the test fake); `ChromaStore` persists in chromadb.
Both implement `qa_app.protocols.VectorStore` and refuse vectors of another `StoreSignature`.
Importing this package does not import chromadb.
"""

from indexing.stores.chroma import ChromaStore
from indexing.stores.memory import InMemoryStore
from indexing.stores.signature import StoreSignature

__all__ = ["ChromaStore", "InMemoryStore", "StoreSignature"]
