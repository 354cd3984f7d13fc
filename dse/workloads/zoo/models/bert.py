"""A BERT encoder (Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for
Language Understanding", NAACL 2019) as HuggingFace ``transformers.BertModel`` exports to ONNX
(opset 17) when given only ``input_ids``:

* embeddings: word (``vocab`` x hidden), token-type (2 x hidden) and absolute position
  (512 x hidden) tables looked up with ``Gather``, summed as ``(word + token_type) + position``,
  then LayerNorm (eps 1e-12). The position ids (``0 .. 511``) and the all-zero token-type ids
  are the model's int64 buffers (not parameters), sliced to ``seq_len`` and broadcast to the
  input's shape (``Slice``, ``Shape``, ``Expand``) as a dynamic-axes export emits them;
* per layer: query, key and value linears (MatMul + Add), heads split by Reshape/Transpose,
  ``Q @ K^T`` (a MatMul of two activations: class ``attention``), Div by ``sqrt(head_dim)``,
  Softmax, ``@ V``, heads merged, output linear, residual Add, LayerNorm; intermediate linear,
  exact (erf) GELU, output linear, residual Add, LayerNorm;
* pooler: the first token's hidden state (``Gather`` on axis 1), dense (Gemm), Tanh.

With no padding the attention mask is all ones, its additive term is zero and exporters fold it
away; it is not built. Dropout is the identity at inference. Outputs: ``last_hidden_state``
``(1, seq_len, hidden)`` and, with ``pooler=True``, ``pooler_output`` ``(1, hidden)``.
The defaults are BERT-base: 109,482,240 parameters with the pooler, as bert-base-uncased.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto

from dse.errors import Problem, WorkloadError
from dse.workloads.zoo.builder import Net
from dse.workloads.zoo.registry import register

_REFERENCE = ("Devlin et al. NAACL 2019; HuggingFace transformers BertModel "
              "(models/bert/modeling_bert.py), ONNX export with input_ids only")

#: BERT's absolute position table and token-type table sizes (BertConfig defaults).
MAX_POSITIONS = 512
TYPE_VOCAB = 2


def _check(hidden: int, heads: int, seq_len: int) -> None:
    problems = []
    if hidden % heads:
        problems.append(Problem("zoo:bert_encoder", "heads",
                                f"expected a divisor of hidden={hidden}, got {heads}"))
    if seq_len > MAX_POSITIONS:
        problems.append(Problem("zoo:bert_encoder", "seq_len",
                                f"expected at most {MAX_POSITIONS} (the position table), "
                                f"got {seq_len}"))
    if problems:
        raise WorkloadError(problems)


def _embeddings(net: Net, seq_len: int, hidden: int, vocab: int) -> str:
    word = net.weight((vocab, hidden), name="embeddings.word_embeddings.weight")
    position = net.weight((MAX_POSITIONS, hidden), name="embeddings.position_embeddings.weight")
    token_type = net.weight((TYPE_VOCAB, hidden), name="embeddings.token_type_embeddings.weight")
    # The ids are BertEmbeddings' int64 buffers (kept 1-D here), sliced to the sequence length
    # and broadcast to the input's shape (Expand to Shape(input)) as a dynamic-axes export emits
    # them. The lookups thus stay run-time Gathers over the full tables, counted whole as PyTorch
    # counts them; all-constant lookups would fold into (1, seq_len, hidden) constants instead.
    position_buffer = net.const(list(range(MAX_POSITIONS)), name="embeddings.position_ids")
    token_type_buffer = net.const([0] * MAX_POSITIONS, name="embeddings.token_type_ids")
    input_shape = net.node("Shape", [net.input], (2,))

    def ids(buffer: str) -> str:  # buffer[:seq_len].expand(input.shape)
        start = net.const([0], name=f"{buffer}.slice_start")
        end = net.const([seq_len], name=f"{buffer}.slice_end")
        first = net.node("Slice", [buffer, start, end], (seq_len,))
        return net.node("Expand", [first, input_shape], (1, seq_len))

    x = net.add(net.gather(word, net.input), net.gather(token_type, ids(token_type_buffer)))
    x = net.add(x, net.gather(position, ids(position_buffer)))
    return net.layernorm(x, eps=1e-12, name="embeddings.LayerNorm")


def _attention(net: Net, x: str, heads: int, prefix: str) -> str:
    n, seq, hidden = net.shape(x)
    head_dim = hidden // heads

    def split(y: str, perm: tuple[int, ...]) -> str:
        return net.transpose(net.reshape(y, (n, seq, heads, head_dim)), perm)

    q = split(net.linear(x, hidden, name=f"{prefix}.self.query"), (0, 2, 1, 3))  # (n,h,s,d)
    k = split(net.linear(x, hidden, name=f"{prefix}.self.key"), (0, 2, 3, 1))  # (n,h,d,s)
    v = split(net.linear(x, hidden, name=f"{prefix}.self.value"), (0, 2, 1, 3))  # (n,h,s,d)
    scores = net.matmul(q, k)  # (n,h,s,s)
    scale = net.const(math.sqrt(head_dim), name=f"{prefix}.self.scale", dtype=np.float32)
    scores = net.node("Div", [scores, scale], net.shape(scores))
    context = net.matmul(net.softmax(scores, axis=-1), v)  # (n,h,s,d)
    context = net.reshape(net.transpose(context, (0, 2, 1, 3)), (n, seq, hidden))
    y = net.linear(context, hidden, name=f"{prefix}.output.dense")
    return net.layernorm(net.add(y, x), eps=1e-12, name=f"{prefix}.output.LayerNorm")


def _layer(net: Net, x: str, heads: int, intermediate: int, prefix: str) -> str:
    hidden = net.shape(x)[-1]
    x = _attention(net, x, heads, f"{prefix}.attention")
    y = net.gelu(net.linear(x, intermediate, name=f"{prefix}.intermediate.dense"))
    y = net.linear(y, hidden, name=f"{prefix}.output.dense")
    return net.layernorm(net.add(y, x), eps=1e-12, name=f"{prefix}.output.LayerNorm")


def _pooler(net: Net, x: str) -> str:
    n, _, hidden = net.shape(x)
    first = net.const(0, name="pooler.first_token")
    cls = net.node("Gather", [x, first], (n, hidden), axis=1)  # hidden_states[:, 0]
    return net.node("Tanh", [net.fc(cls, hidden, name="pooler.dense")], (n, hidden),
                    name="pooler_output")


@register("bert_encoder", summary="BERT encoder (HuggingFace BertModel; defaults: BERT-base)",
          task="language-encoding", reference=_REFERENCE, layers=12, hidden=768, heads=12,
          seq_len=128, vocab=30522, intermediate=0, pooler=True)
def bert_encoder(*, weights: bool, seed: int, layers: int, hidden: int, heads: int, seq_len: int,
                 vocab: int, intermediate: int, pooler: bool) -> onnx.ModelProto:
    """``intermediate`` is the feed-forward width; 0 (the default) means ``4 * hidden`` as in
    every BERT size (3072 for BERT-base, 512 for BERT-tiny)."""
    intermediate = intermediate or 4 * hidden
    _check(hidden, heads, seq_len)
    net = Net("bert_encoder", (1, seq_len), seed=seed, weights=weights,
              input_dtype=TensorProto.INT64)
    x = _embeddings(net, seq_len, hidden, vocab)
    for i in range(layers):
        x = _layer(net, x, heads, intermediate, f"encoder.layer.{i}")
    model = net.model(x, _pooler(net, x)) if pooler else net.model(x)
    _rename(model, x, "last_hidden_state")
    return model


def _rename(model: onnx.ModelProto, old: str, new: str) -> None:
    """Rename a tensor everywhere in the graph (to give the outputs HuggingFace's names)."""
    g = model.graph
    for node in g.node:
        node.output[:] = [new if t == old else t for t in node.output]
        node.input[:] = [new if t == old else t for t in node.input]
    for out in g.output:
        if out.name == old:
            out.name = new
