"""Keep sphinx-thebe's scripts off the pages while live code (thebe) is not enabled.

Jupyter Book 1 always loads sphinx-thebe. Its set-up runs twice per build here, so every page
got its configuration script twice, and the second `const THEBE_JS_URL = ...` threw
"Identifier 'THEBE_JS_URL' has already been declared" in every reader's console. The site
has no live-code button (`launch_buttons` has no `thebe`), so the scripts do nothing useful;
without them no page even names the CDN that thebe would load from. If thebe is switched on
(`launch_buttons: {thebe: true}` in _config.yml), the scripts stay, each once.
"""

from __future__ import annotations

from sphinx.application import Sphinx


def _thebe_enabled(app: Sphinx) -> bool:
    options = getattr(app.builder, "theme_options", None) or {}
    options = {**options, **(app.config.html_theme_options or {})}
    launch = options.get("launch_buttons") or {}
    return str(launch.get("thebe", False)).lower() == "true"


def _is_thebe(script) -> bool:
    filename = str(getattr(script, "filename", "") or "")
    body = str((getattr(script, "attributes", None) or {}).get("body", ""))
    return "sphinx-thebe.js" in filename or "thebe@" in filename or "THEBE_JS_URL" in body


def _key(script) -> tuple:
    attributes = getattr(script, "attributes", None) or {}
    return (
        str(getattr(script, "filename", script)),
        tuple(sorted((k, str(v)) for k, v in attributes.items())),
    )


def clean_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    keep_thebe = _thebe_enabled(app)
    seen: set[tuple] = set()
    cleaned = []
    for script in scripts:
        key = _key(script)
        if key in seen or (not keep_thebe and _is_thebe(script)):
            continue
        seen.add(key)
        cleaned.append(script)
    context["script_files"] = cleaned


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", clean_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
