"""The model family: shapes, training path == step loop, padding invariance, gradients, learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nmt.batching import collate
from nmt.config import ModelConfig
from nmt.errors import ConfigError
from nmt.models import build_model, count_parameters
from nmt.specials import PAD
from nmt.tasks import load_config
from nmt.variants import VARIANTS as REGISTERED

V = 20
VARIANTS = {  # every registered variant as configured by default, and the options that change its paths
    **{name: {"variant": name} for name in REGISTERED},
    "seq2seq_reversed": {"variant": "seq2seq", "reverse_source": True},
    "rnnsearch_reversed": {"variant": "rnnsearch", "reverse_source": True},
    "luong_general_feed": {"variant": "luong", "score": "general", "input_feeding": True},
    "luong_dot": {"variant": "luong", "score": "dot", "input_feeding": False, "decoder_hidden": 12},
    "rnnsearch_gated": {"variant": "rnnsearch", "attention_gate": True},
}
CELLS = ["lstm", "gru", "rnn"]
SMALL = dict(embed_size=10, encoder_hidden=12, decoder_hidden=14, attention_size=9, dropout=0.0)


def make(name: str, cell: str, **extra) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig(**{**SMALL, **VARIANTS[name], "cell": cell, **extra}), V, V).eval()


def mixed_batch(seed: int = 0):
    rng = np.random.default_rng(seed)
    src = [rng.integers(4, V, size=n) for n in (7, 3, 5, 1)]
    tgt = [rng.integers(4, V, size=n) for n in (4, 6, 2, 5)]
    return collate(src, tgt, range(4)), src, tgt


def step_loop(model, batch):
    memory = model.encode(batch.src, batch.src_lengths)
    state = model.init_state(memory)
    log_probs, attention = [], []
    for t in range(batch.tgt_in.shape[1]):
        step_log_probs, state, weights = model.step(batch.tgt_in[:, t], state, memory)
        log_probs.append(step_log_probs)
        attention.append(weights)
    return torch.stack(log_probs, 1), attention


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("name", VARIANTS)
def test_training_forward_equals_the_step_loop(name, cell):
    model = make(name, cell)
    batch, _, _ = mixed_batch()
    with torch.no_grad():
        out = model(batch.src, batch.src_lengths, batch.tgt_in)
        log_probs, attention = step_loop(model, batch)
    assert out.logits.shape == (4, batch.tgt_in.shape[1], V)
    torch.testing.assert_close(log_probs, torch.log_softmax(out.logits, -1), atol=1e-5, rtol=1e-5)
    if out.attention is not None:
        torch.testing.assert_close(torch.stack(attention, 1), out.attention, atol=1e-5, rtol=1e-5)
        assert out.attention.shape == (4, batch.tgt_in.shape[1], batch.src.shape[1])
        torch.testing.assert_close(out.attention.sum(-1), torch.ones(out.attention.shape[:2]))
        padded = ~batch.src_mask[:, None, :].expand_as(out.attention)
        assert (out.attention[padded] == 0).all()
    else:
        assert all(a is None for a in attention)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("name", VARIANTS)
def test_a_sentence_in_a_padded_batch_equals_the_sentence_alone(name, cell):
    model = make(name, cell)
    batch, src, tgt = mixed_batch(seed=1)
    with torch.no_grad():
        together = model(batch.src, batch.src_lengths, batch.tgt_in).logits
        for i in range(4):
            alone = collate([src[i]], [tgt[i]], [i])
            single = model(alone.src, alone.src_lengths, alone.tgt_in).logits[0]
            torch.testing.assert_close(together[i, : len(tgt[i]) + 1], single, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("name", VARIANTS)
def test_gradients_reach_every_parameter(name, cell):
    model = make(name, cell).train()
    batch, _, _ = mixed_batch(seed=2)
    logits = model(batch.src, batch.src_lengths, batch.tgt_in).logits
    torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=PAD).backward()
    for param_name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, param_name


LAYOUTS = {
    "deep_copy": dict(encoder_layers=2, decoder_layers=2, decoder_hidden=12),  # Sutskever: states copied
    "deep_bridged": dict(encoder_layers=3, decoder_layers=2),  # layer counts differ: bridge
    "tied": dict(tie_embeddings=True),  # features 14 projected to embeddings 10
    "shared": dict(share_embeddings=True, tie_embeddings=True, decoder_hidden=20),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", ["seq2seq", "context", "rnnsearch", "luong_general_feed"])
def test_deep_tied_and_shared_layouts_keep_the_step_interface_exact(name, layout):
    model = make(name, "lstm", **LAYOUTS[layout])
    batch, _, _ = mixed_batch(seed=3)
    with torch.no_grad():
        logits = model(batch.src, batch.src_lengths, batch.tgt_in).logits
        log_probs, _ = step_loop(model, batch)
    torch.testing.assert_close(log_probs, torch.log_softmax(logits, -1), atol=1e-5, rtol=1e-5)
    if layout == "shared":
        assert model.encoder.embedding is model.tgt_embedding
        assert model.output.embedding is model.tgt_embedding


def test_the_attention_gate_scales_the_context_between_nothing_and_all_of_it():
    """Show, Attend and Tell's beta: shut, the source cannot reach the output; open, the model is the
    ungated one with the same weights."""
    gated, plain = make("rnnsearch_gated", "gru"), make("rnnsearch", "gru")
    plain.load_state_dict({k: v for k, v in gated.state_dict().items() if ".gate." not in k})
    batch, _, _ = mixed_batch(seed=4)
    other = batch.src.clone()
    other[batch.src_mask] = (other[batch.src_mask] - 4 + 1) % (V - 4) + 4  # every real source token changed
    with torch.no_grad():
        gated.decoder.gate.weight.zero_()
        gated.decoder.gate.bias.fill_(1e4)
        torch.testing.assert_close(gated(batch.src, batch.src_lengths, batch.tgt_in).logits,
                                   plain(batch.src, batch.src_lengths, batch.tgt_in).logits)
        gated.decoder.gate.bias.fill_(-1e4)
        memory, other_memory = gated.encode(batch.src, batch.src_lengths), gated.encode(other, batch.src_lengths)
        other_memory.init_hidden = memory.init_hidden  # the start state reads the source too: hold it equal
        embedded = gated.tgt_embedding(batch.tgt_in)
        features = [gated.decoder(embedded, gated.init_state(m), m)[0] for m in (memory, other_memory)]
    assert not torch.equal(memory.states, other_memory.states)
    torch.testing.assert_close(features[0], features[1])


def test_sutskever_decoder_starts_from_the_encoder_final_state():
    model = make("seq2seq", "lstm", decoder_hidden=12)
    batch, _, _ = mixed_batch()
    with torch.no_grad():
        encoded = model.encoder(batch.src, batch.src_lengths)
        state = model.init_state(model.encode(batch.src, batch.src_lengths))
    assert model.decoder.initial.copy
    torch.testing.assert_close(state.hidden, encoded.final_hidden[:, 0])
    torch.testing.assert_close(state.cell, encoded.final_cell[:, 0])


def test_lstm_forget_gates_start_at_one():
    model = make("rnnsearch", "lstm")
    bias = model.encoder.rnn.bias_ih_l0 + model.encoder.rnn.bias_hh_l0
    assert torch.all(bias[12:24] == 1.0)
    assert torch.all(model.decoder.rnn.embed_proj.bias[14:28] == 1.0)
    assert model.decoder.rnn.hidden_proj[0].bias is None  # it would repeat the input bias


def test_parameter_count_of_the_sutskever_lstm_matches_the_formula():
    E, H = 10, 12
    model = make("seq2seq", "lstm", decoder_hidden=H)
    lstm = lambda inputs: 4 * H * (inputs + H) + 8 * H  # noqa: E731  weights and two biases
    assert count_parameters(model) == 2 * V * E + lstm(E) + lstm(E) + H * V + V


@pytest.mark.parametrize(
    "model, message",
    [
        ({"variant": "seq2seq", "bidirectional": True}, "contradicts model.variant = 'seq2seq'"),
        ({"variant": "bidir", "bidirectional": False}, "contradicts model.variant = 'bidir'"),
        ({"variant": "luong", "score": "dot", "encoder_hidden": 256, "decoder_hidden": 512},
         "model.score = 'dot' needs model.decoder_hidden (512)"),
        ({"variant": "seq2seq", "decoder_layer_norm": True}, "model.decoder_layer_norm needs a decoder that steps"),
        ({"variant": "luong", "input_feeding": False, "decoder_layer_norm": True},
         "luong without input feeding runs a fused torch RNN"),
        ({"variant": "luong", "attention_gate": True}, "model.attention_gate scales rnnsearch's"),
    ],
)
def test_inconsistent_model_configs_are_one_line(model, message):
    data = {"train": {"src": "a", "tgt": "b"}, "dev": {"src": "c", "tgt": "d"}}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config({"data": data, "model": model})


# ---- every variant learns to reverse sequences (tiny models, seconds on a CPU)

def reversal_batch(rng, n: int):
    src = [rng.integers(4, 14, size=rng.integers(2, 7)) for _ in range(n)]
    return collate(src, [s[::-1] for s in src], range(n))


ATTENTIONAL = {"rnnsearch", "luong_general_feed", "luong_dot"}


def token_accuracy(model, batch) -> float:
    model.eval()
    with torch.no_grad():
        predicted = model(batch.src, batch.src_lengths, batch.tgt_in).logits.argmax(-1)
    model.train()
    real = batch.tgt_out != PAD
    return ((predicted == batch.tgt_out) & real).sum().item() / real.sum().item()


# Every variant with the LSTM, and the hand-written stepped cell (rnnsearch's) with each cell. The fused
# variants' GRU and tanh RNN are torch's own: their wiring is the forward-equals-step-loop test's, and
# the stepped cell is held against torch's cells in test_stacked_cell.py.
LEARNERS = [(name, "lstm") for name in ("seq2seq", "context", "bidir", "rnnsearch", "luong_general_feed", "luong_dot")]
LEARNERS += [("rnnsearch", "gru"), ("rnnsearch", "rnn")]


@pytest.mark.parametrize("name, cell", LEARNERS)
def test_every_variant_learns_sequence_reversal(name, cell):
    model = make(name, cell, embed_size=32, encoder_hidden=128, decoder_hidden=128, attention_size=32).train()
    # The plain tanh RNN needs smaller steps to stay stable.
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001 if cell == "rnn" else 0.003)
    rng = np.random.default_rng(0)
    held_out = reversal_batch(np.random.default_rng(99), 500)
    accuracy, max_steps = 0.0, 1500 if name in ATTENTIONAL else 3000
    for step in range(1, max_steps + 1):
        batch = reversal_batch(rng, 64)
        logits = model(batch.src, batch.src_lengths, batch.tgt_in).logits
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 100 == 0 and (accuracy := token_accuracy(model, held_out)) >= 0.95:
            break
    assert accuracy >= 0.95, f"{name}/{cell}: token accuracy {accuracy:.3f} after {step} updates"


# ---- the source reversal happens inside the model

def test_reversed_positions_reverse_real_tokens_only_and_undo_themselves():
    from nmt.models.seq2seq import reversed_positions

    lengths = torch.tensor([4, 2, 1])  # EOS counted
    positions = reversed_positions(lengths, 5)
    assert positions.tolist() == [[2, 1, 0, 3, 4], [0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]
    assert torch.equal(positions.gather(1, positions), torch.arange(5).expand(3, 5))


@pytest.mark.parametrize("name", ["seq2seq", "rnnsearch", "luong_general_feed"])
def test_a_reversed_source_model_is_its_forward_twin_reading_the_sentence_backwards(name):
    backwards = make(name, "lstm", reverse_source=True)
    forwards = make(name, "lstm")
    forwards.load_state_dict(backwards.state_dict())  # same weights; only the reading order differs
    batch, src, tgt = mixed_batch(seed=4)
    flipped = collate([s[::-1] for s in src], tgt, range(4))
    with torch.no_grad():
        out = backwards(batch.src, batch.src_lengths, batch.tgt_in)
        twin = forwards(flipped.src, flipped.src_lengths, flipped.tgt_in)
        step_log_probs, step_attention = step_loop(backwards, batch)
    torch.testing.assert_close(out.logits, twin.logits)
    torch.testing.assert_close(step_log_probs, torch.log_softmax(out.logits, -1), atol=1e-5, rtol=1e-5)
    if out.attention is None:
        return
    for i, s in enumerate(src):  # attention comes back in the source's own order
        n = len(s)
        torch.testing.assert_close(out.attention[i, :, :n], twin.attention[i, :, :n].flip(-1))
        torch.testing.assert_close(out.attention[i, :, n:], twin.attention[i, :, n:])
    torch.testing.assert_close(torch.stack(step_attention, 1), out.attention, atol=1e-5, rtol=1e-5)


class _RepeatedMemory:
    """A model whose beam search repeats memory K times (it has no share_beams): the reference."""

    def __init__(self, model):
        self.model = model

    def __getattr__(self, name):
        if name == "share_beams":
            raise AttributeError(name)
        return getattr(self.model, name)


@pytest.mark.parametrize("variant, extra", [("rnnsearch", {}), ("luong", {"input_feeding": True}),
                                            ("rnnsearch", {"reverse_source": True, "cell": "gru"}),
                                            ("rnnsearch", {"attention_gate": True})])
def test_beams_sharing_one_memory_row_search_as_beams_with_copies(variant, extra):
    from nmt.config import DecodeConfig
    from nmt.search import generate

    torch.manual_seed(0)
    model = build_model(ModelConfig(variant=variant, embed_size=8, encoder_hidden=8, decoder_hidden=12,
                                    attention_size=8, dropout=0.0, **extra), 30, 30).eval()
    batch = collate([[5, 6, 7, 8, 9, 10], [11, 12], [13, 14, 15], [16]], None, [0, 1, 2, 3])
    decode = DecodeConfig(beam_size=4, nbest=4, max_length_a=1.0, max_length_b=2)  # sentences end apart
    assert model.share_beams(model.encode(batch.src, batch.src_lengths), 4) is not None
    shared = generate(model, batch.src, batch.src_lengths, decode, keep_attention=True)
    copied = generate(_RepeatedMemory(model), batch.src, batch.src_lengths, decode, keep_attention=True)
    for mine, theirs in zip(shared, copied):
        assert [h.tokens for h in mine] == [h.tokens for h in theirs]
        assert [h.score for h in mine] == pytest.approx([h.score for h in theirs], abs=1e-5)
        assert torch.allclose(mine[0].attention, theirs[0].attention, atol=1e-6)


def test_int8_reaches_the_tied_output_layer_and_keeps_the_step_close():
    from nmt.models.seq2seq import quantize_int8

    torch.manual_seed(0)
    model = build_model(ModelConfig(variant="rnnsearch", embed_size=16, encoder_hidden=16, decoder_hidden=32,
                                    attention_size=16, dropout=0.0, tie_embeddings=True), 40, 40).eval()
    quantized = quantize_int8(model)
    floats = [name for name, module in quantized.output.named_modules() if type(module) is torch.nn.Linear]
    assert not floats and "Linear" in type(quantized.output[1]).__name__  # a quantized Linear, not fp32
    batch = collate([[5, 6, 7, 8], [9, 10]], None, [0, 1])
    with torch.inference_mode():
        steps = []
        for net in (model, quantized):
            memory = net.encode(batch.src, batch.src_lengths)
            steps.append(net.step(torch.tensor([2, 2]), net.init_state(memory), memory)[0])
    assert 0 < (steps[0] - steps[1]).abs().max() < 0.05  # int8 rounding: different, close
    assert type(model.output).__name__ == "TiedOutput"  # the float model is left as it was


@pytest.mark.parametrize("name", VARIANTS)
def test_leaving_out_finished_rows_changes_no_real_position(name):
    """teacher_forced(drop_finished=True), forced decoding's path: a stepwise decoder computes each step
    for the rows whose target goes on only (fewer rows than the batch from the first row that ends),
    and every real position's features and attention are the full batch's; a padded position looks nowhere."""
    model = make(name, "lstm")
    batch, _, _ = mixed_batch()  # targets of 4, 6, 2 and 5 pieces (+ BOS): rows end at different steps
    rows_seen: list[int] = []
    advance = getattr(model.decoder, "_advance", None)
    if advance is not None:
        model.decoder._advance = lambda step_input, *rest: rows_seen.append(step_input.shape[0]) or advance(step_input, *rest)
    with torch.no_grad():
        full, full_attention = model.teacher_forced(batch.src, batch.src_lengths, batch.tgt_in)
        dropped, dropped_attention = model.teacher_forced(batch.src, batch.src_lengths, batch.tgt_in, drop_finished=True)
    real = batch.tgt_in != PAD
    torch.testing.assert_close(dropped[real], full[real])
    if full_attention is not None:
        torch.testing.assert_close(dropped_attention[real], full_attention[real])
    if model.decoder.stepwise:
        assert (dropped_attention[~real] == 0).all()
        steps = batch.tgt_in.shape[1]
        assert rows_seen[-steps:] == [int((real[:, t]).sum()) for t in range(steps)] == [4, 4, 4, 3, 3, 2, 1]
