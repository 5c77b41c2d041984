"""The pages' languages: message catalogs per page family, and the language a request reads in.

Rules:
- A catalog is `messages/<family>.<lang>.json`: one flat JSON object of dotted keys to
  strings (`"send.confirm": "Pay {amount}"`). Families: `common` (every page) and one per
  page family (`wallet`, `till`, `officer`). Every key exists in both languages of its family
  (a test checks it), so a page never falls back to another language mid-sentence. Keys
  start with their family (`wallet.send.title`), but for `error.<code>`: the words for an API
  error code, which any family may define (`api.js` `explain` looks them up).
- Placeholders are `{name}`, filled by `t(key, name=...)` in templates and by the same syntax
  in the pages' JS (`api.js` `t`). A missing key or placeholder raises: a typo fails the
  page's test instead of showing a key to a customer.
- The language is the `lang` cookie when it names one of `LANGUAGES`, else English. It is a
  preference, not a secret: it is set by `GET /lang` (`pages.render`) for a year.
- Catalogs are read from the package once per process and never change while it runs.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Callable, Iterable, Mapping

import msgspec
from starlette.requests import Request

__all__ = [
    "COOKIE",
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "Translate",
    "catalog",
    "language_of",
    "messages",
    "translator",
]

LANGUAGES = ("en", "km")
DEFAULT_LANGUAGE = "en"
COOKIE = "lang"

#: `t(key, **params)`: the text of `key` in the page's language, its placeholders filled.
Translate = Callable[..., str]


@functools.cache
def catalog(family: str, language: str) -> Mapping[str, str]:
    """The messages of one page family in one language (read once)."""
    # Callers pass a language already chosen from LANGUAGES and a family named in code.
    assert language in LANGUAGES and family.isidentifier(), (family, language)
    resource = importlib.resources.files(__package__).joinpath(
        "messages", f"{family}.{language}.json"
    )
    return msgspec.json.decode(resource.read_bytes(), type=dict[str, str])


def messages(families: Iterable[str], language: str) -> dict[str, str]:
    """The messages of `families` merged (a later family's key wins; keys are prefixed by
    family by convention, so none collide)."""
    merged: dict[str, str] = {}
    for family in families:
        merged.update(catalog(family, language))
    return merged


def translator(texts: Mapping[str, str]) -> Translate:
    """`t(key, **params)` over `texts`: KeyError on a missing key or placeholder."""

    def t(key: str, **params: object) -> str:
        text = texts[key]
        return text.format_map(params) if params else text

    return t


def language_of(request: Request) -> str:
    """The language the request's `lang` cookie asks for, or the default."""
    asked = request.cookies.get(COOKIE, "")
    return asked if asked in LANGUAGES else DEFAULT_LANGUAGE
