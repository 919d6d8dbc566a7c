"""The ONNX Runtime backend on the converted default model: the contract, conversion, parity."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from aip_sdk import ConfigError, ConversionError, ModelLoadError, Planner
from aip_sdk.observation import Observation
from aip_sdk.policy import Policy
from aip_sdk.testing.contract import PROMPT_MESSAGES, BackendContract
from aip_sdk_onnx import OnnxBackend
from aip_sdk_onnx.convert import CONFIG_FILE, MODEL_FILE, TOKENIZER_FILE


class TestOnnxContract(BackendContract):
    @pytest.fixture
    def backend(self, onnx_backend):
        return onnx_backend


def test_conversion_writes_a_complete_folder(onnx_folder):
    meta = json.loads((onnx_folder / CONFIG_FILE).read_text())
    assert meta["format"] == "aip-onnx-decoder/3"
    assert meta["config"]["n_layers"] == 30 and meta["config"]["n_kv_heads"] == 3
    assert meta["tokenizer"]["end_ids"] == [0, 2]  # <|endoftext|>, <|im_end|>
    # 4-bit blocks kept from the GGUF: the model is about the size of the GGUF file, not 4x.
    size = (onnx_folder / MODEL_FILE).stat().st_size
    assert 80e6 < size < 130e6
    assert not list(onnx_folder.parent.glob(".smollm2.*"))  # no temporary folder left


def test_q4_1_and_q8_0_blocks_are_bit_exact():
    import gguf

    from aip_sdk.models import default_model_path
    from aip_sdk_onnx._gguf import as_blocks, read_gguf

    model = read_gguf(default_model_path())
    for name in ("blk.0.ffn_down.weight", "blk.7.attn_q.weight", "token_embd.weight"):
        t = model.tensors[name]
        ref = gguf.quants.dequantize(np.asarray(t.data), t.tensor_type)
        np.testing.assert_allclose(as_blocks(t).dequantize(), ref, rtol=0, atol=1e-6)


# GGUF type -> (bytes per block of values, byte offsets of its float16 fields)
_K_LAYOUTS = {"Q4_K": (144, (0, 2)), "Q5_0": (22, (0,)), "Q6_K": (210, (208,))}


@pytest.mark.parametrize("qtype", sorted(_K_LAYOUTS))
def test_reference_model_block_types_are_kept_exactly(qtype):
    """The reference models' Q4_K, Q5_0 and Q6_K weights become MatMulNBits blocks that
    dequantize to exactly what the gguf package (llama.cpp's layout) gives, on random blocks."""
    from types import SimpleNamespace

    import gguf

    from aip_sdk_onnx._gguf import as_blocks

    gtype = gguf.GGMLQuantizationType[qtype]
    size, halves = _K_LAYOUTS[qtype]
    per_row = 2 if qtype.endswith("_K") else 16  # two super-blocks of 256, or 16 blocks of 32
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 256, size=(6, per_row, size), dtype=np.uint8)
    for at in halves:  # sane scales: random bytes would hold NaN and infinities
        raw[..., at : at + 2] = (
            rng.uniform(0.01, 0.1, (6, per_row)).astype(np.float16)[..., None].view(np.uint8)
        )
    raw = raw.reshape(6, -1)
    tensor = SimpleNamespace(tensor_type=int(gtype), data=raw, name="w", shape=(raw.shape[1], 6))
    blocks = as_blocks(tensor)
    ref = gguf.quants.dequantize(raw, gtype)
    assert blocks.requant_error is None and blocks.bits == (4 if qtype == "Q4_K" else 8)
    assert blocks.block == (16 if qtype == "Q6_K" else 32)
    np.testing.assert_allclose(blocks.dequantize(), ref, rtol=1e-6, atol=1e-7)


def test_tokenizer_matches_llama_cpp_on_planner_prompts(onnx_backend, real_backend, blocksworld):
    env = blocksworld.make("2", "basic_3")
    obs, _ = env.reset(seed=0)
    prompt = Policy(real_backend).prompt(Observation.from_env(obs), ["(unstack b a)"])
    texts = [prompt, "café 東京 😀 3.14159 don't  two  spaces\n\ttab", "  (pick-up a)  "]
    for text in texts:
        assert onnx_backend.tokenize(text) == real_backend.tokenize(text)
    assert onnx_backend.render_chat(PROMPT_MESSAGES) == real_backend.render_chat(PROMPT_MESSAGES)


def test_score_ranks_like_llama_cpp_on_blocksworld_steps(onnx_backend, real_backend, blocksworld):
    agree = 0
    for task in ("2", "3", "4"):
        env = blocksworld.make(task, "basic_3")
        obs = Observation.from_env(env.reset(seed=0)[0])
        a = real_backend.score(Policy(real_backend).prompt(obs, []), obs.actions).logprobs
        b = onnx_backend.score(Policy(onnx_backend).prompt(obs, []), obs.actions).logprobs
        agree += int(np.argmax(a) == np.argmax(b))
        assert np.max(np.abs(np.subtract(a, b))) < 1.0  # same model, different kernels
    assert agree == 3


def test_greedy_is_the_same_alone_and_in_a_batch(onnx_backend):
    prompt = onnx_backend.render_chat([{"role": "user", "content": "Name three primary colours."}])
    one = onnx_backend.sample(prompt, n=1, max_tokens=16, temperature=0.0).completions[0]
    four = onnx_backend.sample(prompt, n=4, max_tokens=16, temperature=0.0).completions
    assert "primary colours" in one.text
    assert all(c.token_ids == one.token_ids for c in four)


@pytest.fixture(scope="module")
def bound_backend(onnx_folder):
    """The same model with its cache bound as ONNX Runtime tensors (IO binding), on CPU."""
    backend = OnnxBackend(onnx_folder, providers=["CPUExecutionProvider"], io_binding=True)
    yield backend
    backend.close()


class TestOnnxBoundContract(BackendContract):
    @pytest.fixture
    def backend(self, bound_backend):
        return bound_backend


def test_io_binding_gives_the_same_samples_and_scores(onnx_backend, bound_backend):
    assert bound_backend._runtime._bound == "cpu" and onnx_backend._runtime._bound is None
    prompt = onnx_backend.render_chat(PROMPT_MESSAGES)
    for backend in (onnx_backend, bound_backend):
        backend.reset_cache()
    for _ in range(2):  # a fresh prompt, then the cached one (cut and copied per call)
        plain = onnx_backend.sample(prompt, n=4, max_tokens=12, temperature=1.0, seed=3)
        bound = bound_backend.sample(prompt, n=4, max_tokens=12, temperature=1.0, seed=3)
        assert [c.token_ids for c in bound.completions] == [c.token_ids for c in plain.completions]
        assert len({tuple(c.token_ids) for c in plain.completions}) > 1  # rows did differ
        a = onnx_backend.score(prompt, ["Blue.", "Green.", "A colour."])
        b = bound_backend.score(prompt, ["Blue.", "Green.", "A colour."])
        np.testing.assert_allclose(a.logprobs, b.logprobs, atol=1e-4)


def test_prefix_reuse_gives_the_same_logits_as_a_fresh_prompt(onnx_backend):
    prompt = onnx_backend.render_chat(PROMPT_MESSAGES)
    onnx_backend.reset_cache()
    fresh = onnx_backend.score(prompt, ["Blue.", "Green."])
    again = onnx_backend.score(prompt, ["Blue.", "Green."])
    assert fresh.cost.reused_prompt_tokens == 0 and again.cost.reused_prompt_tokens > 0
    np.testing.assert_allclose(fresh.logprobs, again.logprobs, atol=1e-3)


def test_unavailable_provider_falls_back_to_cpu_with_a_warning(onnx_folder):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime build has CUDA")
    with pytest.warns(RuntimeWarning, match="CUDAExecutionProvider is not available"):
        backend = OnnxBackend(onnx_folder, providers=["CUDAExecutionProvider"])
    assert backend.provider == "CPUExecutionProvider"
    assert backend.capabilities.device == "cpu"
    backend.close()


def test_default_providers_end_with_cpu():
    from aip_sdk_onnx._providers import choose_providers

    assert choose_providers(None)[-1] == "CPUExecutionProvider"


def test_unknown_provider_is_a_config_error(onnx_folder):
    with pytest.raises(ConfigError, match="not an ONNX Runtime execution provider"):
        OnnxBackend(onnx_folder, providers=["WarpDriveExecutionProvider"])


def test_malformed_onnx_file_is_a_clear_error(onnx_folder, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in (CONFIG_FILE, TOKENIZER_FILE):
        shutil.copy(onnx_folder / name, broken / name)
    (broken / MODEL_FILE).write_bytes(b"this is not a protobuf" * 10)
    with pytest.raises(ModelLoadError, match="could not load .*convert the model again"):
        OnnxBackend(broken)


def test_folder_that_is_not_a_converted_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="aip-sdk convert"):
        OnnxBackend(tmp_path)
    with pytest.raises(ModelLoadError, match="does not exist"):
        OnnxBackend(tmp_path / "missing")
    (tmp_path / "x.bin").write_bytes(b"\x00" * 16)
    with pytest.raises(ModelLoadError, match="neither a GGUF file nor"):
        OnnxBackend(tmp_path / "x.bin")


def test_converter_refuses_other_architectures(tmp_path):
    import gguf

    from aip_sdk_onnx.convert import convert_gguf

    path = tmp_path / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "mamba")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((8, 32), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ConversionError, match="'mamba' model"):
        convert_gguf(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="already exists"):
        convert_gguf(path, tmp_path)


def test_int8_conversion_runs_and_agrees_on_the_obvious_answer(tmp_path, onnx_backend):
    from aip_sdk.models import default_model_path
    from aip_sdk_onnx.convert import convert_gguf

    folder = convert_gguf(default_model_path(), tmp_path / "int8", weights="int8")
    backend = OnnxBackend(folder)
    prompt = backend.render_chat([{"role": "user", "content": "What is the capital of France?"}])
    conts = ["The capital of France is Paris.", "Banana helicopter purple seven."]
    res = backend.score(prompt, conts)
    assert res.logprobs[0] > res.logprobs[1] + 5
    ref = onnx_backend.score(prompt, conts)
    assert abs(res.logprobs[0] - ref.logprobs[0]) < 1.0
    backend.close()


@pytest.mark.parametrize("suite", ["blocksworld", "grid", "alfworld", "miniwob"])
def test_planner_runs_every_suite_on_the_onnx_backend(onnx_backend, suite):
    from aip_sdk.envs.suite import load_suite

    s = load_suite(suite)
    task = s.tasks()[0].task_id
    env = s.make(task)
    try:
        result = Planner(backend=onnx_backend, controller="fixed:k=2,depth=0").plan(
            env, max_steps=2, seed=1
        )
    finally:
        env.close()
    assert 1 <= len(result.steps) <= 2
    assert result.cost.generated_tokens > 0 and result.cost.llm_calls >= len(result.steps)
    for step in result.steps:
        assert step.action in [c.action for c in step.candidates]


def _tiny_qwen2(path):
    """A 2-layer qwen2 model with random weights and the embedded model's BPE vocabulary
    (qwen2's pre-tokenizer): the qwen2 path of the converter, without downloading a model."""
    import gguf

    from aip_sdk.models import default_model_path

    src = gguf.GGUFReader(str(default_model_path()))

    def field(key):
        return src.fields[key].contents()

    tokens = field("tokenizer.ggml.tokens")
    rng = np.random.default_rng(0)
    hidden, ff, heads, kv, hd = 64, 128, 4, 2, 16
    w = gguf.GGUFWriter(str(path), "qwen2")
    w.add_context_length(512)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ff)
    w.add_block_count(2)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_freq_base(1_000_000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_file_type(0)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(field("tokenizer.ggml.token_type"))
    w.add_token_merges(field("tokenizer.ggml.merges"))
    w.add_bos_token_id(field("tokenizer.ggml.bos_token_id"))
    w.add_eos_token_id(field("tokenizer.ggml.eos_token_id"))
    w.add_add_bos_token(False)
    w.add_chat_template(field("tokenizer.chat_template"))

    def mat(rows, cols, scale=0.08):
        return (rng.standard_normal((rows, cols)) * scale).astype(np.float32)

    w.add_tensor("token_embd.weight", mat(len(tokens), hidden, 1.0))
    for i in range(2):
        p = f"blk.{i}"
        w.add_tensor(f"{p}.attn_norm.weight", np.ones(hidden, np.float32))
        w.add_tensor(f"{p}.attn_q.weight", mat(heads * hd, hidden))
        w.add_tensor(f"{p}.attn_q.bias", mat(1, heads * hd, 0.5)[0])
        w.add_tensor(f"{p}.attn_k.weight", mat(kv * hd, hidden))
        w.add_tensor(f"{p}.attn_k.bias", mat(1, kv * hd, 0.5)[0])
        w.add_tensor(f"{p}.attn_v.weight", mat(kv * hd, hidden))
        w.add_tensor(f"{p}.attn_v.bias", mat(1, kv * hd, 0.5)[0])
        w.add_tensor(f"{p}.attn_output.weight", mat(hidden, heads * hd))
        w.add_tensor(f"{p}.ffn_norm.weight", np.ones(hidden, np.float32))
        w.add_tensor(f"{p}.ffn_gate.weight", mat(ff, hidden))
        w.add_tensor(f"{p}.ffn_up.weight", mat(ff, hidden))
        w.add_tensor(f"{p}.ffn_down.weight", mat(hidden, ff))
    w.add_tensor("output_norm.weight", np.ones(hidden, np.float32))
    w.add_tensor("output.weight", mat(len(tokens), hidden, 0.5))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_a_qwen2_model_converts_and_agrees_with_llama_cpp(tmp_path):
    """Biases, NEOX rotary embeddings, the qwen2 pre-tokenizer: ONNX Runtime and llama.cpp give
    the same tokens and near-identical scores on the same GGUF (8-bit blocks vs float32)."""
    from aip_sdk_llamacpp import LlamaCppBackend
    from aip_sdk_onnx import OnnxBackend
    from aip_sdk_onnx.convert import convert_gguf

    gguf_path = _tiny_qwen2(tmp_path / "tiny-qwen2.gguf")
    folder = convert_gguf(gguf_path, tmp_path / "onnx")
    meta = json.loads((folder / "aip_model.json").read_text())
    assert meta["architecture"] == "qwen2" and meta["requantized"].startswith(
        "16 weights"
    )  # 2 x 7 + emb + out
    onnx = OnnxBackend(folder, providers=["CPUExecutionProvider"])
    llama = LlamaCppBackend(gguf_path, n_ctx=512)
    try:
        prompt = onnx.render_chat([{"role": "user", "content": "Colours: 12 red, 3 blue."}])
        assert onnx.tokenize(prompt) == llama.tokenize(prompt)
        conts = ["red", "blue", "green 42"]
        a = np.array(onnx.score(prompt, conts).logprobs)
        b = np.array(llama.score(prompt, conts).logprobs)
        # 8-bit blocks against float32 weights: within 1% (llama's adjacent-pair rotation in
        # place of NEOX's moved them by 2%, measured)
        assert np.max(np.abs(a - b) / np.abs(b)) < 0.01, (a, b)
        ga = onnx.sample(prompt, n=1, max_tokens=8, temperature=0.0).completions[0]
        gb = llama.sample(prompt, n=1, max_tokens=8, temperature=0.0).completions[0]
        assert ga.token_ids[:4] == gb.token_ids[:4]
    finally:
        onnx.close()
        llama.close()
