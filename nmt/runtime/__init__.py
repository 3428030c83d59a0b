"""Translation with an exported model (nmt-export) on onnxruntime, numpy and sentencepiece alone:
nothing in this package imports torch."""
