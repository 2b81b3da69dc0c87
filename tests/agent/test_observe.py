"""Observation: which elements the agent sees, their ids, and the text the model reads."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from runs.agent.actions import perform
from runs.agent.observe import ElementNotFound, Observation, find_element, observe

Goto = Callable[[str], None]


def by_name(observation: Observation, name: str) -> Any:
    found = [e for e in observation.elements if e.name == name]
    assert found, f"no element named {name!r} in:\n{observation.text}"
    return found[0]


def test_ids_are_stable_while_the_page_does_not_change(page: Page, goto: Goto, run: Any) -> None:
    goto("/inputs")
    first = run(observe(page, screenshot=False))
    second = run(observe(page, screenshot=False))
    assert [(e.id, e.name) for e in first.elements] == [(e.id, e.name) for e in second.elements]
    ids = [e.id for e in first.elements]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("e") for i in ids)


def test_new_nodes_get_new_ids_and_old_ones_keep_theirs(page: Page, goto: Goto, run: Any) -> None:
    goto("/changing?replace_ms=600000")
    before = run(observe(page, screenshot=False))
    shuffle = by_name(before, "Re-render list")
    apple = by_name(before, "Apple 1")
    run(page.click("#shuffle"))
    after = run(observe(page, screenshot=False))
    assert by_name(after, "Re-render list").id == shuffle.id
    new_apple = by_name(after, "Apple 2")
    assert new_apple.id not in {e.id for e in before.elements}
    assert apple.id not in {e.id for e in after.elements}


def test_elements_in_frames_have_frame_prefixed_ids(page: Page, goto: Goto, run: Any) -> None:
    goto("/iframe")
    observation = run(observe(page, screenshot=False))
    outer = by_name(observation, "Outer button")
    same = by_name(observation, "Greet same")
    cross = by_name(observation, "Greet cross")
    assert outer.id.startswith("e")
    assert same.id.startswith("f")
    assert cross.id.startswith("f")
    assert same.id.split("e")[0] != cross.id.split("e")[0]
    assert "Greet invisible" not in observation.text  # the display:none iframe
    # Boxes are in main-frame coordinates: the frames sit below the heading.
    assert same.box.y > outer.box.y - 600
    assert same.box.y > 50
    assert cross.in_viewport
    ids = [e.id for e in observation.elements]
    assert len(ids) == len(set(ids))
    cross_prefix = cross.id.rsplit("e", 1)[0]
    assert f"-- inside frame {cross_prefix} (http://localhost:" in observation.text
    again = run(observe(page, screenshot=False))
    assert [e.id for e in again.elements] == ids


def test_elements_in_a_cross_origin_frame_are_actionable(
    page: Page, goto: Goto, run: Any, files_dir: Path
) -> None:
    goto("/iframe")
    observation = run(observe(page, screenshot=False))
    cross_frame = [e for e in observation.elements if "name=cross" in e.frame_url]
    field = next(e for e in cross_frame if e.kind == "input")
    button = next(e for e in cross_frame if e.kind == "button")
    typed = run(
        perform(
            page, {"type": "input_text", "element_id": field.id, "text": "Bob"}, files_dir=files_dir
        )
    )
    assert typed.ok, typed.error
    clicked = run(perform(page, {"type": "click", "element_id": button.id}, files_dir=files_dir))
    assert clicked.ok, clicked.error
    frame = next(f for f in page.frames if "name=cross" in f.url)
    assert run(frame.text_content("#result")) == "Hello, Bob!"
    assert "Hello, Bob!" in run(observe(page, screenshot=False)).text


def test_hidden_elements_are_left_out(page: Page, goto: Goto, run: Any) -> None:
    goto("/hidden")
    observation = run(observe(page, screenshot=False))
    names = {e.name for e in observation.elements}
    assert {
        "Visible button",
        "Visible link",
        "Clickable div",
        "Role button",
        "Focusable div",
    } <= names
    assert "More" in names  # a <summary>
    for hidden in (
        "Display none",
        "Inside display none",
        "Visibility hidden",
        "Zero size",
        "Aria hidden",
        "Off screen",
        "Inert",
        "Screen reader only",
        "Inside closed details",
        "Not focusable div",
    ):
        assert hidden not in names, hidden
    assert "Hidden paragraph text" not in observation.text
    assert "Visible paragraph text" in observation.text
    assert by_name(observation, "Disabled button").disabled


def test_passwords_are_masked(page: Page, goto: Goto, run: Any) -> None:
    goto("/inputs")
    observation = run(observe(page, screenshot=False))
    secret = by_name(observation, "Secret")
    assert secret.type == "password"
    assert secret.value == "********"
    assert "hunter2" not in observation.text
    assert "hunter2" not in observation.page_text


def test_form_controls_carry_their_state(page: Page, goto: Goto, run: Any) -> None:
    goto("/inputs")
    observation = run(observe(page, screenshot=False))
    email = by_name(observation, "Email")
    assert (email.kind, email.type, email.value) == ("input", "email", "a@b.c")
    assert email.placeholder == "you@example.com"
    assert email.field == "email"
    country = by_name(observation, "Country")
    assert country.options is not None
    assert [o.label for o in country.options] == ["France", "Germany", "Spain", "Italy"]
    assert [o.value for o in country.options] == ["fr", "de", "es", "it"]
    assert country.value == "France"
    assert by_name(observation, "Accept terms").checked is True
    assert by_name(observation, "Newsletter").checked is False
    assert by_name(observation, "Small").kind == "radio"
    assert by_name(observation, "Locked field").disabled
    # The switch hides its checkbox and shows a label: the label stands in for it.
    dark = by_name(observation, "Dark mode")
    assert (dark.kind, dark.via_label, dark.checked) == ("checkbox", True, False)
    lines = observation.text.splitlines()
    assert (
        f'[{email.id}] input type=email name="Email" value="a@b.c" placeholder="you@example.com"'
        in lines
    )
    assert (
        f'[{country.id}] select "Country" options=["France","Germany","Spain","Italy"] '
        'selected="France"' in lines
    )
    assert all(0 <= e.box.x < 1280 and 0 <= e.box.y < 800 for e in observation.elements)
    assert all(e.in_viewport for e in observation.elements)


def test_links_render_with_short_hrefs(page: Page, goto: Goto, run: Any) -> None:
    goto("/hidden")
    observation = run(observe(page, screenshot=False))
    link = by_name(observation, "Visible link")
    assert link.href is not None
    assert link.href.endswith("/table")
    assert f'[{link.id}] link "Visible link" href="/table"' in observation.text


def test_a_page_with_thousands_of_elements_is_trimmed(page: Page, goto: Goto, run: Any) -> None:
    goto("/many?n=2400")
    observation = run(observe(page, max_elements=300, screenshot=False))
    assert len(observation.elements) == 300
    assert observation.dropped_count == 2100
    assert "… 2100 more elements below; scroll to see them" in observation.text
    # Everything in the viewport is kept, and the kept ones come first in page order.
    assert observation.elements[0].name == "Button 0"
    in_view = [e for e in observation.elements if e.in_viewport]
    assert len(in_view) > 100
    assert len(observation.text) < 30_000


def test_trimming_after_scrolling_keeps_the_viewport_and_counts_both_sides(
    page: Page, goto: Goto, run: Any
) -> None:
    goto("/many?n=2400")
    run(page.evaluate("window.scrollTo(0, 2000)"))
    observation = run(observe(page, max_elements=200, screenshot=False))
    assert observation.dropped_above > 0
    assert observation.dropped_below > 0
    assert "more elements above; scroll up to see them" in observation.text
    assert all(e.in_viewport for e in observation.elements[:50])
    assert "(middle)" in observation.text


def test_a_data_table_is_readable_from_the_text(page: Page, goto: Goto, run: Any) -> None:
    goto("/table")
    observation = run(observe(page, screenshot=False))
    lines = observation.text.splitlines()
    assert "# Products" in lines
    assert "| Name | Price | Stock |" in lines
    for row in (
        "| Widget | $9.99 | 12 |",
        "| Gadget | $24.50 | 3 |",
        "| Doohickey | $4.25 | 40 |",
        "| Sprocket | $12.00 | 0 |",
        "| Thingamajig | $99.95 | 7 |",
    ):
        assert row in lines


def test_page_text_does_not_repeat_the_elements(page: Page, goto: Goto, run: Any) -> None:
    goto("/inputs")
    page_text = run(observe(page, screenshot=False)).text.split("Page text:")[1]
    assert "Germany" not in page_text  # a <select>'s options
    assert "Newsletter" not in page_text  # a checkbox's label
    assert "Extras" in page_text  # a legend
    goto("/many?n=500")
    page_text = run(observe(page, screenshot=False)).text.split("Page text:")[1]
    assert page_text.strip().splitlines() == ["# 500 interactive elements", "Nothing clicked yet"]


def test_header_names_the_page(page: Page, goto: Goto, run: Any, site: Any) -> None:
    goto("/table")
    observation = run(observe(page, screenshot=False))
    assert observation.url == site.url + "/table"
    assert observation.title == "Products"
    assert observation.text.startswith(f"URL: {site.url}/table\nTitle: Products\n")


def test_screenshot_is_a_viewport_jpeg(page: Page, goto: Goto, run: Any) -> None:
    goto("/many?n=2400")
    observation = run(observe(page))
    assert observation.screenshot is not None
    assert observation.screenshot[:3] == b"\xff\xd8\xff"
    assert _jpeg_size(observation.screenshot) == (1280, 800)
    assert run(observe(page, screenshot=False)).screenshot is None


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    while i < len(data):
        marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height
        i += 2 + length
    raise AssertionError("no SOF marker")


def test_find_element_resolves_ids_and_reports_missing_ones(
    page: Page, goto: Goto, run: Any
) -> None:
    goto("/iframe")
    observation = run(observe(page, screenshot=False))
    cross = by_name(observation, "Greet cross")
    locator = run(find_element(page, cross.id))
    assert run(locator.text_content()) == "Greet cross"
    for missing in ("e999", "f99e1", "button", ""):
        with pytest.raises(ElementNotFound):
            run(find_element(page, missing))
    with pytest.raises(ElementNotFound, match="not on the page any more"):
        run(find_element(page, "e999"))


def test_cloned_nodes_do_not_share_an_id(page: Page, goto: Goto, run: Any) -> None:
    goto("/hidden")
    first = run(observe(page, screenshot=False))
    button = by_name(first, "Visible button")
    run(page.evaluate("document.body.append(document.querySelector('button').cloneNode(true))"))
    second = run(observe(page, screenshot=False))
    copies = [e for e in second.elements if e.name == "Visible button"]
    assert len(copies) == 2
    assert copies[0].id == button.id
    assert copies[1].id != button.id
    assert run(run(find_element(page, button.id)).count()) == 1


def test_observing_right_after_a_navigating_click_works(page: Page, goto: Goto, run: Any) -> None:
    goto("/flow/1")

    async def click_and_observe() -> Observation:
        # Start the navigation without waiting for it, then look at once.
        await page.evaluate("setTimeout(() => document.querySelector('form').submit(), 0)")
        await asyncio.sleep(0.01)
        return await observe(page, screenshot=False)

    observation = run(click_and_observe())
    assert observation.title in ("Flow step 1", "Flow step 2")
    run(page.wait_for_url("**/flow/2**"))
    assert run(observe(page, screenshot=False)).title == "Flow step 2"
