"""Linking views: ``vw.link(explorer, layer_metrics, annotator)`` keeps their selections in step.

Linking is a function, not a layout (as jupyter-scatter's ``compose``/``link``): any widgets
with the same selection traits can be linked, in a dashboard or in cells of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import traitlets

__all__ = ["link", "SELECTION_TRAITS"]

#: the semantic selection that views share (``query``: a token index, prefix tokens first, as
#: the AttentionExplorer's pinned query and the FeatureExplorer's clicked patch)
SELECTION_TRAITS = ("image_index", "layer", "head", "query")
#: selection traits of one view that a mapping may link to another view's selection trait
#: (a RepresentationMap's column block)
SOURCE_TRAITS = (*SELECTION_TRAITS, "layer_b")


def _link_renamed(views, traits: Mapping[str, str]) -> list:
    """``traitlets.link`` of ``views[0].<source>`` with ``<target>`` of each other view
    having it, for every ``source: target`` of ``traits``."""
    first, others = views[0], views[1:]
    links = []
    for source, target in traits.items():
        if source not in SOURCE_TRAITS or target not in SELECTION_TRAITS:
            raise ValueError(
                f"cannot link {source!r} to {target!r}: sources are {SOURCE_TRAITS}, "
                f"targets {SELECTION_TRAITS}"
            )
        if not first.has_trait(source):
            raise ValueError(f"the first view ({type(first).__name__}) has no trait {source!r}")
        links += [traitlets.link((first, source), (v, target))
                  for v in others if v.has_trait(target)]
    return links


def link(
    *views: traitlets.HasTraits, traits: Sequence[str] | Mapping[str, str] = SELECTION_TRAITS
) -> list:
    """Keep ``traits`` equal across ``views`` (each trait among the views that have it), and
    show the tags of a :class:`HeadAnnotator` among them under the heads of every
    :class:`AttentionExplorer`.

    Args:
        views: widgets such as ``AttentionExplorer``, ``LayerMetrics``, ``HeadAnnotator``.
        traits: which selection traits to link (default: image, layer, head and query); or a mapping
            ``{trait of the first view: trait of the others}`` linking differently named
            traits, e.g. a :class:`RepresentationMap`'s column block to a second model's
            view: ``link(repmap, explorer_b, traits={"layer_b": "layer"})``.

    Returns:
        The links (``traitlets.link`` objects and annotation observers); call ``.unlink()``
        on one to stop it.
    """
    if len(views) < 2:
        raise ValueError(f"link needs at least two views, got {len(views)}")
    if isinstance(traits, Mapping):
        return _link_renamed(views, traits)
    unknown = [t for t in traits if t not in SELECTION_TRAITS]
    if unknown:
        raise ValueError(f"unknown selection traits {unknown}; valid: {SELECTION_TRAITS}")
    links: list = []
    for name in traits:
        having = [v for v in views if v.has_trait(name)]
        links += [traitlets.link((having[0], name), (v, name)) for v in having[1:]]
    links += _link_annotations(views)
    return links


class _AnnotationLink:
    """Copies an annotator's tags into an explorer's ``head_tags`` whenever they change."""

    def __init__(self, annotator, explorer):
        self.annotator, self.explorer = annotator, explorer
        annotator.observe(self._update, "annotations")
        self._update(None)

    def _update(self, _change) -> None:
        self.explorer.head_tags = {
            k: v["tag"] for k, v in self.annotator.annotations.items() if v.get("tag")
        }

    def unlink(self) -> None:
        self.annotator.unobserve(self._update, "annotations")


def _link_annotations(views) -> list[_AnnotationLink]:
    annotators = [v for v in views if v.has_trait("annotations")]
    explorers = [v for v in views if v.has_trait("head_tags")]
    return [_AnnotationLink(a, e) for a in annotators for e in explorers]
