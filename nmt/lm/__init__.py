"""The character-level language model of Karpathy 2015 ("The Unreasonable Effectiveness of
Recurrent Neural Networks"), trained by the toolkit's one loop as the task `char_lm`.

    config.py  the config of a `task: char_lm` file
    data.py    the character vocabulary, id arrays, truncated-BPTT stream batches
    model.py   CharLM on the shared fused cells, with the search's step interface
    task.py    the Trainer's task; bits per character; sampling

Nothing is imported here, so reading a config loads no torch.
"""
