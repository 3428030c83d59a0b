"""Image captioning with the translation decoders: a CNN's grid (or its mean) in place of a sentence."""
