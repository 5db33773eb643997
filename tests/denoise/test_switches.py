"""The mechanism switches: one declaration, scheme defaults, and what `check` asks of model and call."""

import pytest

from layercraft.conditioning.schemes import SCHEMES
from layercraft.denoise import Switches

OK = dict(identity_embed_dim=8, dam_hidden_dim=8, has_identity_embeds=True)


def _check(switches, scheme="layercomposer", **kw):
    switches.check(scheme, **{**OK, **kw})


def test_defaults_pass_on_every_scheme():
    for name in SCHEMES:
        _check(Switches(), name, identity_embed_dim=0, dam_hidden_dim=0, has_identity_embeds=False)


@pytest.mark.parametrize(("switches", "kw", "message"), [
    (Switches(modulation=True), dict(has_identity_embeds=False), "modulation=True needs identity_embeds"),
    (Switches(modulation=True), dict(identity_embed_dim=0), "no identity projector"),
    (Switches(dam=True), dict(dam_hidden_dim=0), "no DAM temperature generators"),
    (Switches(prune_rule="largest"), {}, "prune_rule must be 'nearest' or 'coverage'"),
])
def test_check_names_the_missing_piece(switches, kw, message):
    with pytest.raises(ValueError, match=message):
        _check(switches, **kw)
    _check(switches.replace(modulation=False, dam=False, prune_rule="nearest"), **kw)  # the switch is the cause


def test_cache_needs_a_cacheable_scheme():
    with pytest.raises(ValueError, match="cache=True needs a model trained with cacheable conditions; scheme "
                                         "'kontext_collage'"):
        _check(Switches(cache=True), "kontext_collage")
    for name, scheme in SCHEMES.items():
        if scheme.cacheable:
            _check(Switches(cache=True), name)


def test_modulation_and_dam_pass_when_provided():
    _check(Switches(modulation=True, dam=True), "anyphoto")


def test_none_takes_the_scheme_default_and_an_explicit_value_wins():
    sw = Switches()
    assert sw.isolation_for("anyphoto") and not sw.isolation_for("layercomposer")
    assert sw.ccpa_for("one_for_all") and not sw.ccpa_for("anyphoto")
    assert not Switches(isolation=False).isolation_for("anyphoto") and Switches(ccpa=True).ccpa_for("layercomposer")
    with pytest.raises(ValueError, match="unknown scheme"):
        sw.isolation_for("layer_composer")


def test_from_options_splits_switches_from_other_call_options():
    sw, rest = Switches.from_options({"prune": False, "dam": True, "num_inference_steps": 4, "scheme": "anyphoto"})
    assert sw == Switches(prune=False, dam=True) and rest == {"num_inference_steps": 4, "scheme": "anyphoto"}
    assert set(Switches.names()) == set(Switches().as_dict())
    assert Switches().replace(cache=True).cache and not Switches().cache  # frozen: replace returns a copy


def test_one_declaration_serves_the_training_task_and_eval():
    from layercraft.eval.methods import Method
    from layercraft.training.tasks.canvas import CanvasTaskArgs

    args = CanvasTaskArgs(switches={"dam": True, "ccpa": True})
    assert args.switches == Switches(dam=True, ccpa=True)
    with pytest.raises(ValueError):
        CanvasTaskArgs(switches={"damm": True})  # a misspelt switch is refused, not ignored
    assert Method.__dataclass_fields__["switches"].default_factory is Switches
