"""Property tests: parsing never fails; rendering is idempotent; error-free renders validate."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.lyrics import RenderOptions, Sheet, format_lyrics, parse, render_sheet, validate
from tests.lyrics.strategies import any_text

DIALECTS = st.sampled_from(["acestep", "levo2", "heartmula"])
OPTIONS = st.builds(
    RenderOptions,
    duration_s=st.sampled_from([None, 45.0, 150.0, 300.0]),
    instrumental=st.booleans(),
)
FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.one_of(any_text, st.text(), st.binary().map(lambda b: b.decode("latin-1"))))
def test_parsing_never_fails(text):
    sheet = parse(text)
    assert isinstance(sheet, Sheet)
    assert all(line.text == line.text.strip() and line.text for s in sheet.sections for line in s.lines)


@FAST
@given(any_text, DIALECTS, OPTIONS)
def test_rendering_is_idempotent(text, dialect, options):
    first = render_sheet(parse(text), dialect, options).lyrics
    assert render_sheet(parse(first), dialect, options).lyrics == first


@FAST
@given(any_text, DIALECTS, OPTIONS)
def test_error_free_renders_pass_their_validator(text, dialect, options):
    rendered = render_sheet(parse(text), dialect, options)
    if not rendered.errors:
        assert validate(dialect, rendered.lyrics, instrumental=options.instrumental) == []


@FAST
@given(any_text, DIALECTS, st.text(max_size=80), st.booleans())
def test_format_lyrics_never_raises_and_ok_means_valid(text, dialect, style, instrumental):
    result = format_lyrics(text, dialect, style=style, instrumental=instrumental)
    assert result.ok == (not result.errors)
    if result.ok:
        assert validate(dialect, result.lyrics, result.style, instrumental=instrumental) == []
