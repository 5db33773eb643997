"""The conditioning schemes a LayeredCanvasPipeline offers, and their default attention isolation.

Kept free of heavy imports so command lines and servers can list them cheaply.
"""

SCHEMES = ("layercomposer", "anyphoto", "one_for_all", "kontext_collage")
DEFAULT_ISOLATION = {"layercomposer": False, "anyphoto": True, "one_for_all": False, "kontext_collage": False}
