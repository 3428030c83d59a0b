"""The four special symbols, with ids fixed across the toolkit (SentencePiece models and the
character vocabulary alike): unk 0, pad 1, bos 2, eos 3. Torch-free and SentencePiece-free,
so models, search and batching read these integers without loading either."""

UNK, PAD, BOS, EOS = 0, 1, 2, 3
SPECIAL_PIECES = ("<unk>", "<pad>", "<s>", "</s>")  # indexed by id
SPECIAL_IDS = {"unk_id": UNK, "pad_id": PAD, "bos_id": BOS, "eos_id": EOS}  # SentencePiece trainer arguments
