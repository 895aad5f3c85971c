import pytest

from docsbot.documents.parsing import ParseError, parse_document

from .conftest import DOCS


def _headings(doc):
    return [(b.level, b.text, b.anchor) for b in doc.blocks if b.kind == "heading"]


def test_it_parses_markdown_headings_code_and_tables():
    doc = parse_document("quickstart.md", (DOCS / "quickstart.md").read_bytes())
    assert doc.title == "Quickstart"
    assert (2, "Installing the CLI", "installing-the-cli") in _headings(doc)
    assert any(b.kind == "code" and b.text == "pip install acme-widgets" for b in doc.blocks)
    table = next(b for b in doc.blocks if b.kind == "table")
    assert "timeout | 30 | Request timeout in seconds" in table.text
    assert ("timeout", "30", "Request timeout in seconds") in table.rows


def test_it_keeps_what_kind_of_block_each_is_lists_tables_definition_terms_signatures_and_asides():
    html = ("<main><h1>Options</h1><p>Pick one:</p><ul><li>fast</li><li>safe</li></ul>"
            "<table><tr><th>Name</th><th>Default</th></tr><tr><td>retries</td><td>3 | 4</td></tr></table>"
            "<dl><dt>--follow</dt><dd><p>Continue listing the history of a file.</p></dd></dl>"
            "<pre>git log --follow</pre><div class='admonition note'><p class='admonition-title'>Note</p>"
            "<p>Renames are followed for one file only.</p></div>"
            "<dl><dt id='acme.Client.fetch'>acme.Client.fetch(path, *, timeout=30, retries=3, headers=None, stream=False)"
            "</dt><dd><p>Fetch a path.</p></dd></dl></main>")
    doc = parse_document("options.html", html.encode())
    assert [(b.kind, b.text) for b in doc.blocks if b.kind != "table"] == [
        ("heading", "Options"), ("paragraph", "Pick one:"), ("list", "- fast\n- safe"), ("term", "--follow:"),
        ("paragraph", "Continue listing the history of a file."), ("code", "git log --follow"), ("admonition", "Note"),
        ("paragraph", "Renames are followed for one file only."), ("heading", "acme.Client.fetch"),
        ("signature", "acme.Client.fetch(path, *, timeout=30, retries=3, headers=None, stream=False)"),
        ("paragraph", "Fetch a path.")]
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.rows == (("Name", "Default"), ("retries", "3 | 4"))  # a cell's own bar stays in its cell
    assert [type(b).from_json(b.as_json()) for b in doc.blocks] == [
        type(b)(b.kind, b.text, b.level, rows=b.rows) for b in doc.blocks]


def test_it_parses_restructuredtext_sections_with_anchors():
    doc = parse_document("deploying.rst", (DOCS / "deploying.rst").read_bytes())
    assert doc.title == "Deploying widgets"
    assert (2, "Rolling back", "rolling-back") in _headings(doc)
    assert "acme rollback" in doc.plain_text()


def test_it_drops_navigation_scripts_and_footers_from_html():
    doc = parse_document("api.html", (DOCS / "api.html").read_bytes())
    text = doc.plain_text()
    assert doc.title == "API reference"
    assert "alert" not in text and "Copyright" not in text and "Home" not in text
    assert (2, "Creating a widget", "create-widget") in _headings(doc)
    assert any(b.kind == "code" and b.text.startswith("curl -X POST") for b in doc.blocks)


def test_it_keeps_only_text_from_hostile_html():
    html = (b"<html><body><main><h1>T</h1><p>safe <img src=x onerror=alert(1)>"
            b"<script>steal()</script><b onclick='x()'>bold</b></p><iframe src=evil></iframe></main></body></html>")
    doc = parse_document("x.html", html)
    text = doc.plain_text()
    assert "safe bold" in text
    assert "<" not in text and "steal" not in text and "onerror" not in text


def test_it_turns_sphinx_api_entries_into_anchored_sections():
    html = b"""<html><head><title>API - Flask Documentation</title></head><body>
    <div class="sphinxsidebar">Navigation</div><div role="main"><section id="api"><h1>API</h1>
    <dl class="py class"><dt class="sig" id="flask.Flask"><em>class</em> flask.Flask(import_name, static_url_path=None, static_folder='static', host_matching=False)</dt>
    <dd><p>The flask object implements a WSGI application.</p>
    <dl class="py method"><dt id="flask.Flask.route">route(rule, **options)<a class="reference internal"
    href="_modules/flask/app.html#Flask.route"><span class="viewcode-link"><span class="pre">[source]</span></span></a>
    </dt><dd><p>Decorate a view function.</p></dd></dl>
    </dd></dl></section></div></body></html>"""
    doc = parse_document("api.html", html)
    assert doc.title == "API"
    # viewcode's "[source]" link is no part of the signature: the structural generator reads it as one
    assert [h[1:] for h in _headings(doc)] == [("API", "api"), ("flask.Flask", "flask.Flask"),
                                               ("route(rule, **options)", "flask.Flask.route")]
    assert "Navigation" not in doc.plain_text() and "[source]" not in doc.plain_text()


def test_it_reads_pdf_pages_with_page_anchors():
    doc = parse_document("manual.pdf", (DOCS / "manual.pdf").read_bytes())
    assert doc.title == "Acme Widgets Operations Manual"
    assert ("page=2") in [b.anchor for b in doc.blocks if b.kind == "heading"]
    assert "recalibrated every 90 days" in doc.plain_text()


def test_it_reads_plain_text_paragraphs():
    doc = parse_document("notes.txt", b"Release notes\n\nVersion 2 adds widgets.\n\nVersion 3 removes them.")
    assert doc.title == "Release notes"
    assert [b.text for b in doc.blocks][-1] == "Version 3 removes them."


@pytest.mark.parametrize("name,data,reason", [
    ("logo.png", b"\x89PNG....", "unsupported file type '.png'"),
    ("broken.pdf", b"%PDF-1.4\n1 0 obj garbage", "PDF"),
    ("empty.md", b"   \n", "the file is empty"),
    ("latin1.md", "# Café\n\nNaïve".encode("latin-1"), "not valid UTF-8"),
    ("blank.html", b"<html><body><nav>menu</nav></body></html>", "no text found"),
])
def test_it_explains_why_a_file_cannot_be_read(name, data, reason):
    with pytest.raises(ParseError) as excinfo:
        parse_document(name, data)
    assert reason in str(excinfo.value)
