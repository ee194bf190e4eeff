"""report.html: one self-contained page (images embedded), readable in any browser without a server."""
import base64
import html

STYLE = """
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
pre { background: #f7f7f7; padding: 0.8em; font-size: 0.8em; overflow-x: auto; }
img { max-width: 100%; } .warning { color: #a33; }
"""


def _image(path):
    with open(path, "rb") as f:
        data = base64.b64encode(f.read()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path)}">'


def page(title, sections, refresh=None):
    """sections: (heading, [parts]); a part is ("table", frame), ("text", str), ("pre", str),
    ("warning", str) or ("image", png path). With `refresh` (seconds) the browser reloads the page
    that often (a live report)."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    for heading, parts in sections:
        body.append(f"<h2>{html.escape(heading)}</h2>")
        for kind, content in parts:
            if kind == "table":
                body.append(content.to_html(index=False, border=0, na_rep="–"))
            elif kind == "text":
                body.append(f"<p>{html.escape(content)}</p>")
            elif kind == "warning":
                body.append(f'<p class="warning">{html.escape(content)}</p>')
            elif kind == "pre":
                body.append(f"<pre>{html.escape(content)}</pre>")
            elif kind == "image":
                body.append(f"<p>{_image(content)}</p>")
            else:
                raise ValueError(f"unknown part kind {kind!r}")
    reload = f'<meta http-equiv="refresh" content="{int(refresh)}">' if refresh else ""
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">" + reload +
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")
