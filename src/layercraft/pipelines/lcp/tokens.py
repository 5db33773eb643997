"""Find each subject's tokens in the prompt (for box regulation): the descriptor's word pieces as a contiguous
run of the prompt's token ids, else its last word (the head noun), else the category word. An explicit override
(list of token indices or a substring of the prompt) wins."""

from __future__ import annotations

from collections.abc import Sequence


def _ids(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False).input_ids)


def _find_run(haystack: Sequence[int], needle: Sequence[int]) -> int | None:
    n = len(needle)
    if n == 0:
        return None
    for i in range(len(haystack) - n + 1):
        if list(haystack[i : i + n]) == list(needle):
            return i
    return None


def find_subject_tokens(tokenizer, prompt: str, words: str | list[int], fallbacks: Sequence[str] = (),
                        max_length: int | None = None) -> list[int]:
    """Token positions (in the padded encoder input, special tokens included) of `words` in `prompt`."""
    if not isinstance(words, str):
        return list(words)
    enc = tokenizer(prompt, padding="max_length", truncation=True,
                    max_length=max_length or tokenizer.model_max_length).input_ids
    candidates = [words, words.split()[-1] if words.split() else words, *fallbacks]
    for cand in candidates:
        needle = _ids(tokenizer, cand)
        start = _find_run(enc, needle)
        if start is not None:
            return list(range(start, start + len(needle)))
    raise ValueError(f"none of {candidates!r} occurs in the prompt {prompt!r}; name the subject in the prompt or "
                     "pass subject_tokens={layer_id: [token indices] or 'words'}")
