"""The position schemes' names, without the schemes (no torch): what a command line or a project file may name.

The one place each name is spelled; `schemes.py` builds the scheme objects on these names.
"""

LAYERCOMPOSER, ANYPHOTO, ONE_FOR_ALL, KONTEXT_COLLAGE = "layercomposer", "anyphoto", "one_for_all", "kontext_collage"
SCHEME_NAMES: tuple[str, ...] = (LAYERCOMPOSER, ANYPHOTO, ONE_FOR_ALL, KONTEXT_COLLAGE)
DEFAULT_SCHEME = LAYERCOMPOSER
