"""What the agent sees of a page: its interactive elements across frames, with short
stable ids, a text rendering for the model, and a viewport screenshot.

observe.js runs in every frame (cross-origin ones too: Playwright evaluates in each
`page.frames` entry) and tags every visible interactive node with a
`data-harrier-id` attribute. Ids look like `e12` in the main frame and `f1e3` in a
child frame, so they are unique across the page; a node keeps its id for as long as
it lives, and new nodes get new numbers. `find_element` turns an id back into a
Playwright Locator in the right frame.

Pages with thousands of elements are trimmed: elements in or near the viewport and
form controls first, the rest counted in a "… N more elements below" line.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from playwright.async_api import CDPSession, Frame, Locator, Page
from playwright.async_api import Error as PlaywrightError

OBSERVE_JS = (Path(__file__).parent / "observe.js").read_text()
ID_ATTRIBUTE = "data-harrier-id"
MAIN_PREFIX = "e"
_ID = re.compile(r"^(?:f(\d+))?e(\d+)$")
MAX_OPTIONS = 100  # collected per <select>; the text rendering shows fewer
RENDER_OPTIONS = 25
MAX_TABLE_ROWS = 500
MAX_PAGE_TEXT = 200_000  # Observation.page_text, for extraction: generous, but bounded
SCREENSHOT_TIMEOUT_MS = 5_000
JPEG_QUALITY = 70
_cdp_sessions: weakref.WeakKeyDictionary[Page, CDPSession] = weakref.WeakKeyDictionary()
# A frame keeps the prefix it was given; remember it so find_element need not ask.
_frame_prefixes: weakref.WeakKeyDictionary[Frame, str] = weakref.WeakKeyDictionary()


class ElementNotFound(LookupError):
    """The id names no element on the page any more (or never did)."""

    def __init__(self, element_id: str, reason: str = "") -> None:
        self.element_id = element_id
        super().__init__(
            reason or f"Element {element_id} is not on the page any more; the page may have changed"
        )


@dataclass(frozen=True)
class Box:
    """A rectangle in CSS pixels relative to the main frame's viewport (as Playwright's
    bounding_box and page.mouse use): negative or beyond the viewport when scrolled away."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Option:
    label: str
    value: str
    selected: bool = False


@dataclass
class Element:
    id: str
    tag: str
    role: str | None
    name: str
    text: str
    type: str | None
    box: Box
    in_viewport: bool
    frame_url: str
    disabled: bool = False
    value: str | None = None
    placeholder: str | None = None
    checked: bool | None = None
    selected: bool | None = None
    expanded: bool | None = None
    required: bool = False
    readonly: bool = False
    href: str | None = None
    field: str | None = None  # the form field name (`name` attribute)
    options: list[Option] | None = None
    option_count: int | None = None
    multiple: bool = False
    via_label: bool = False  # a hidden input shown through its visible <label>
    reason: str = ""  # why it counts as interactive: control, link, role, onclick, pointer, ...

    @property
    def kind(self) -> str:
        """The word the text rendering starts with: button, link, input, checkbox, select..."""
        if self.tag == "input":
            if self.type in ("checkbox", "radio"):
                return self.type
            if self.type in ("submit", "button", "reset", "image"):
                return "button"
            return "input"
        if self.tag in ("select", "textarea", "button"):
            return self.tag
        if self.tag == "a" and self.href is not None:
            return "link"
        return self.role or self.tag

    def render(self, page_url: str = "") -> str:
        """One line for the model, e.g. `[e3] input type=email name="Email" value="a@b.c"`."""
        parts = [f"[{self.id}]", self.kind]
        kind = self.kind
        if kind in ("input", "textarea", "textbox", "searchbox") or (
            kind == "combobox" and self.options is None
        ):
            if self.type and kind == "input":
                parts.append(f"type={self.type}")
            if self.name:
                parts.append(f"name={_quote(self.name)}")
            if self.value:
                parts.append(f"value={_quote(self.value)}")
            if self.placeholder and self.placeholder != self.name:
                parts.append(f"placeholder={_quote(self.placeholder)}")
        else:
            if self.name:
                parts.append(_quote(self.name))
            if self.text and self.text != self.name and not self.name.startswith(self.text):
                parts.append(f"text={_quote(self.text)}")
            if self.options is not None:
                labels = [o.label for o in self.options[:RENDER_OPTIONS]]
                more = (self.option_count or len(self.options)) - len(labels)
                shown = ",".join(_quote(label) for label in labels)
                parts.append(f"options=[{shown}{',...' if more > 0 else ''}]")
                if more > 0:
                    parts.append(f"({more} more options)")
                parts.append(f"selected={_quote(self.value or '')}")
            elif self.value and kind not in ("checkbox", "radio"):
                parts.append(f"value={_quote(self.value)}")
        if self.checked is not None:
            parts.append("checked" if self.checked else "unchecked")
        if self.selected:
            parts.append("selected")
        if self.expanded is not None:
            parts.append("expanded" if self.expanded else "collapsed")
        if self.href and kind == "link":
            parts.append(f"href={_quote(_short_href(self.href, page_url))}")
        if self.required:
            parts.append("required")
        if self.readonly:
            parts.append("readonly")
        if self.disabled:
            parts.append("disabled")
        return " ".join(parts)


@dataclass
class TextBlock:
    text: str
    y: int  # top, in main-frame viewport coordinates
    kind: Literal["text", "row"]
    frame_prefix: str
    frame_url: str = ""


@dataclass
class Observation:
    url: str
    title: str
    elements: list[Element]
    dropped_count: int
    screenshot: bytes | None
    text: str
    screenshot_type: Literal["jpeg", "png"] = "jpeg"
    viewport: dict[str, int] = field(default_factory=dict)
    dropped_above: int = 0
    dropped_below: int = 0
    page_text: str = ""  # all visible text, uncut by the excerpt budget (for extraction)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def element(self, element_id: str) -> Element | None:
        return next((e for e in self.elements if e.id == element_id), None)


# -- observing ----------------------------------------------------------------------------


async def observe(
    page: Page,
    *,
    max_elements: int = 300,
    screenshot: bool = True,
    max_text_chars: int = 4_000,
) -> Observation:
    """Look at the page: elements of every visible frame, text, and a viewport screenshot."""
    started = time.perf_counter()
    shot_task = asyncio.create_task(take_screenshot(page)) if screenshot else None
    try:
        frames = await _observe_frames(page, max_elements)
    except BaseException:
        if shot_task is not None:
            shot_task.cancel()
        raise
    collected = time.perf_counter()
    shot = await shot_task if shot_task is not None else None
    main = frames[0][1]

    elements: list[Element] = []
    blocks: list[TextBlock] = []
    frame_above = sum(data["droppedAbove"] for _, data in frames)
    frame_below = sum(data["droppedBelow"] for _, data in frames)
    for frame_result, data in frames:
        offset_x, offset_y, clip = frame_result
        for raw in data["elements"]:
            elements.append(_element(raw, offset_x, offset_y, clip, data["url"], main))
        for raw in data["blocks"]:
            blocks.append(
                TextBlock(
                    raw["text"], raw["y"] + offset_y, raw["kind"], data["prefix"], data["url"]
                )
            )

    viewport = main["viewport"]
    kept, above, below = _trim(elements, max_elements, viewport["height"])
    above, below = above + frame_above, below + frame_below
    excerpt = _excerpt(blocks, max_text_chars, viewport["height"])
    url, title = main["url"], main["title"]
    text = render_text(url, title, viewport, kept, above, below, excerpt)
    done = time.perf_counter()
    return Observation(
        url=url,
        title=title,
        elements=kept,
        dropped_count=above + below,
        dropped_above=above,
        dropped_below=below,
        screenshot=shot,
        text=text,
        viewport=viewport,
        page_text=_join_blocks(blocks),
        timings_ms={
            "elements": round((collected - started) * 1000, 1),
            "total": round((done - started) * 1000, 1),
        },
    )


async def take_screenshot(page: Page) -> bytes | None:
    """The viewport as JPEG, or None when the page cannot be captured right now.

    Viewport only: a full-page capture costs 270-570 ms here, and the model reads the
    rest from the element list and the text. Straight through CDP: Playwright's
    page.screenshot first injects a caret-hiding style and waits for fonts, which
    costs 20-40 ms a step for nothing the model needs.
    """
    try:
        session = _cdp_sessions.get(page)
        if session is None:
            session = await page.context.new_cdp_session(page)
            _cdp_sessions[page] = session
        result = await asyncio.wait_for(
            session.send("Page.captureScreenshot", {"format": "jpeg", "quality": JPEG_QUALITY}),
            SCREENSHOT_TIMEOUT_MS / 1000,
        )
        return base64.b64decode(result["data"])
    except (PlaywrightError, TimeoutError):
        _cdp_sessions.pop(page, None)
    try:
        return await page.screenshot(
            type="jpeg", quality=JPEG_QUALITY, timeout=SCREENSHOT_TIMEOUT_MS
        )
    except PlaywrightError:
        return None


_FrameGeometry = tuple[int, int, tuple[int, int, int, int] | None]


async def _observe_frames(
    page: Page, max_elements: int
) -> list[tuple[_FrameGeometry, dict[str, Any]]]:
    """Evaluate observe.js in the main frame, then in every visible child frame at once."""
    main = page.main_frame
    children = [f for f in page.frames if f is not main and not f.is_detached()]
    # Frames seen before keep their prefix; only new ones need a number from the main
    # frame's counter (which lives in the main document, so it resets with it).
    fresh = [f for f in children if f not in _frame_prefixes]
    args = {
        "prefix": MAIN_PREFIX,
        "candidate": None,
        "reserveFrames": len(fresh),
        "maxElements": max_elements,
        "maxOptions": MAX_OPTIONS,
        "maxTableRows": MAX_TABLE_ROWS,
    }
    main_data = await _evaluate_main(page, args)
    _frame_prefixes[main] = MAIN_PREFIX
    first = main_data["firstFrame"] or 1
    candidates = {frame: f"f{first + i}e" for i, frame in enumerate(fresh)}
    geometry = await _frame_geometry(children)

    async def evaluate(frame: Frame) -> dict[str, Any] | None:
        frame_args = {**args, "prefix": None, "candidate": candidates.get(frame)}
        frame_args["reserveFrames"] = 0
        data = await _evaluate_child(frame, frame_args)
        if data is not None and data["prefix"] is None:
            # Known frame, new document: it needs a new number after all.
            try:
                number = await main.evaluate(_RESERVE_ONE)
            except PlaywrightError:
                return None
            frame_args["candidate"] = f"f{number}e"
            data = await _evaluate_child(frame, frame_args)
        return data

    shown = [(frame, geometry[frame]) for frame in children if geometry.get(frame) is not None]
    results = await asyncio.gather(*(evaluate(frame) for frame, _ in shown))
    out: list[tuple[_FrameGeometry, dict[str, Any]]] = [((0, 0, None), main_data)]
    for (_, geo), data in zip(shown, results, strict=True):
        if data is not None and geo is not None and data["prefix"]:
            out.append((geo, data))
    return out


_RESERVE_ONE = """() => {
    const H = (window.__harrier ||= {ids: new WeakMap(), next: 1, nextFrame: 1, prefix: "e"});
    return H.nextFrame++;
}"""


async def _frame_geometry(children: list[Frame]) -> dict[Frame, _FrameGeometry | None]:
    """Each child frame's content origin and visible clip in main-frame viewport coordinates;
    None for a frame that is hidden itself or inside a hidden frame."""
    local = await asyncio.gather(*(_frame_offset(f) for f in children))
    local_by_frame = dict(zip(children, local, strict=True))
    geometry: dict[Frame, _FrameGeometry | None] = {}

    def absolute(frame: Frame) -> _FrameGeometry | None:
        if frame in geometry:
            return geometry[frame]
        parent = frame.parent_frame
        mine = local_by_frame.get(frame)
        if parent is None:  # the main frame
            return (0, 0, None)
        base = absolute(parent)
        result = None
        if mine is not None and base is not None:
            x, y, w, h = mine
            bx, by, bclip = base
            ax, ay = bx + x, by + y
            clip: tuple[int, int, int, int] = (ax, ay, w, h)
            if bclip is not None:
                clip = _intersect(clip, bclip)
            result = (ax, ay, clip)
        geometry[frame] = result
        return result

    for frame in children:
        absolute(frame)
    return geometry


async def _evaluate_main(page: Page, args: dict[str, Any]) -> dict[str, Any]:
    # Right after a click the main frame may be navigating: its context is destroyed
    # under the evaluation. Wait for the new document and look again.
    for attempt in range(3):
        try:
            return json.loads(await page.main_frame.evaluate(OBSERVE_JS, args))
        except PlaywrightError as exc:
            if attempt == 2 or not _is_navigation_error(exc):
                raise
            with contextlib.suppress(PlaywrightError):
                await page.wait_for_load_state("domcontentloaded", timeout=5_000)
    raise AssertionError("unreachable")


async def _evaluate_child(frame: Frame, args: dict[str, Any]) -> dict[str, Any] | None:
    try:
        data = json.loads(await frame.evaluate(OBSERVE_JS, args))
    except PlaywrightError:
        return None  # detached or navigating away: its elements are not there to act on
    if data["prefix"]:
        _frame_prefixes[frame] = data["prefix"]
    return data


async def _frame_offset(frame: Frame) -> tuple[int, int, int, int] | None:
    """Where the frame's content area sits in its parent frame's viewport, or None if hidden."""
    try:
        handle = await frame.frame_element()
        return await handle.evaluate(
            """(el) => {
                if (!el.checkVisibility({visibilityProperty: true})) return null;
                const r = el.getBoundingClientRect();
                if (r.width < 2 || r.height < 2) return null;
                const s = getComputedStyle(el);
                const x = r.left + el.clientLeft + parseFloat(s.paddingLeft);
                const y = r.top + el.clientTop + parseFloat(s.paddingTop);
                return [Math.round(x), Math.round(y), el.clientWidth, el.clientHeight];
            }"""
        )
    except PlaywrightError:
        return None


def _is_navigation_error(exc: PlaywrightError) -> bool:
    message = str(exc)
    return any(
        needle in message
        for needle in (
            "Execution context was destroyed",
            "navigation",
            "Cannot find context",
            "Target closed",
            "frame was detached",
        )
    )


def _intersect(
    a: tuple[int, int, int, int], b: tuple[int, int, int, int]
) -> tuple[int, int, int, int]:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    return (x1, y1, max(0, x2 - x1), max(0, y2 - y1))


def _element(
    raw: dict[str, Any],
    offset_x: int,
    offset_y: int,
    clip: tuple[int, int, int, int] | None,
    frame_url: str,
    main: dict[str, Any],
) -> Element:
    x, y, w, h = raw["box"]
    box = Box(x + offset_x, y + offset_y, w, h)
    vw, vh = main["viewport"]["width"], main["viewport"]["height"]
    in_view = bool(raw["inView"]) and box.x < vw and box.y < vh and box.x + w > 0 and box.y + h > 0
    if clip is not None:
        cx, cy, cw, ch = clip
        in_view = (
            in_view and box.x < cx + cw and box.y < cy + ch and box.x + w > cx and box.y + h > cy
        )
    options = raw.get("options")
    return Element(
        id=raw["id"],
        tag=raw["tag"],
        role=raw.get("role"),
        name=raw.get("name") or "",
        text=raw.get("text") or "",
        type=raw.get("type"),
        box=box,
        in_viewport=in_view,
        frame_url=frame_url,
        disabled=bool(raw.get("disabled")),
        value=raw.get("value"),
        placeholder=raw.get("placeholder"),
        checked=raw.get("checked"),
        selected=raw.get("selected"),
        expanded=raw.get("expanded"),
        required=bool(raw.get("required")),
        readonly=bool(raw.get("readonly")),
        href=raw.get("href"),
        field=raw.get("field"),
        options=[Option(o["label"], o["value"], o["selected"]) for o in options]
        if options is not None
        else None,
        option_count=raw.get("optionCount"),
        multiple=bool(raw.get("multiple")),
        via_label=raw.get("via") == "label",
        reason=raw.get("reason") or "",
    )


# -- trimming and rendering ---------------------------------------------------------------

_FORM_KINDS = {"input", "textarea", "select", "checkbox", "radio", "combobox", "textbox"}


def _distance(box: Box, viewport_height: int) -> int:
    """How far (px) an element is outside the viewport vertically; 0 when inside."""
    if box.y + box.height <= 0:
        return -(box.y + box.height)
    if box.y >= viewport_height:
        return box.y - viewport_height
    return 0


def _trim(
    elements: list[Element], max_elements: int, viewport_height: int
) -> tuple[list[Element], int, int]:
    """Keep the elements that matter most, in page order; count what was dropped above/below.

    Priority: in the viewport, then within one viewport of it (form controls first,
    since forms are what agents fill), then everything else by distance.
    """
    if len(elements) <= max_elements:
        return elements, 0, 0

    def priority(item: tuple[int, Element]) -> tuple[int, int, int]:
        index, element = item
        distance = _distance(element.box, viewport_height)
        near = 0 if element.in_viewport else 1 if distance <= viewport_height else 2
        form = 0 if element.kind in _FORM_KINDS else 1
        return (near, form if near else 0, distance if near else index)

    ranked = sorted(enumerate(elements), key=priority)
    chosen = {index for index, _ in ranked[:max_elements]}
    kept = [e for i, e in enumerate(elements) if i in chosen]
    dropped = [e for i, e in enumerate(elements) if i not in chosen]
    above = sum(1 for e in dropped if e.box.y + e.box.height <= 0)
    return kept, above, len(dropped) - above


def _excerpt(blocks: list[TextBlock], max_chars: int, viewport_height: int) -> list[str | None]:
    """Text lines within the budget, nearest the viewport first; None marks a gap."""
    total = sum(len(b.text) + 1 for b in blocks)
    if total <= max_chars:
        chosen = set(range(len(blocks)))
    else:
        chosen = _nearest_blocks(blocks, max_chars, viewport_height)
    return _lines(blocks, chosen)


def _nearest_blocks(blocks: list[TextBlock], max_chars: int, viewport_height: int) -> set[int]:
    def distance(block: TextBlock) -> int:
        if block.y < 0:
            return -block.y
        return max(0, block.y - viewport_height)

    order = sorted(range(len(blocks)), key=lambda i: (distance(blocks[i]), i))
    chosen: set[int] = set()
    used = 0
    for i in order:
        size = len(blocks[i].text) + 1
        if used + size > max_chars:
            if used > max_chars * 0.9:
                break
            continue
        chosen.add(i)
        used += size
    return chosen


def _lines(blocks: list[TextBlock], chosen: set[int]) -> list[str | None]:
    lines: list[str | None] = []
    frame = MAIN_PREFIX
    for i, block in enumerate(blocks):
        if i in chosen:
            if block.frame_prefix != frame:
                frame = block.frame_prefix
                lines.append(_frame_marker(frame, block.frame_url))
            lines.append(block.text)
        elif not lines or lines[-1] is not None:
            lines.append(None)
    return lines


def _frame_marker(prefix: str, url: str) -> str:
    if prefix == MAIN_PREFIX:
        return "-- main page --"
    shown = url if len(url) <= 100 else url[:99] + "…"
    return f"-- inside frame {prefix.removesuffix('e')} ({shown}) --"


def _join_blocks(blocks: list[TextBlock]) -> str:
    text = "\n".join(b.text for b in blocks)
    return text if len(text) <= MAX_PAGE_TEXT else text[: MAX_PAGE_TEXT - 1] + "…"


def render_text(
    url: str,
    title: str,
    viewport: dict[str, int],
    elements: list[Element],
    above: int,
    below: int,
    excerpt: list[str | None],
) -> str:
    """The observation as the model reads it: header, one line per element, page text."""
    scroll_y, height, doc_height = viewport["scrollY"], viewport["height"], viewport["docHeight"]
    if doc_height <= height:
        position = "the whole page is visible"
    else:
        bottom = min(doc_height, scroll_y + height)
        where = "top" if scroll_y <= 0 else "bottom" if bottom >= doc_height else "middle"
        position = f"showing {scroll_y}-{bottom} of {doc_height} px ({where})"
    lines = [
        f"URL: {url}",
        f"Title: {title}",
        f"Viewport: {viewport['width']}x{height}, {position}",
        "",
        "Interactive elements:",
    ]
    if above:
        lines.append(f"… {above} more elements above; scroll up to see them")
    frame = MAIN_PREFIX
    for element in elements:
        prefix = parse_element_id(element.id)
        if prefix != frame:
            frame = prefix
            lines.append(_frame_marker(prefix, element.frame_url))
        lines.append(element.render(url))
    if not elements:
        lines.append("(none)")
    if below:
        lines.append(f"… {below} more elements below; scroll to see them")
    lines += ["", "Page text:"]
    for line in excerpt:
        lines.append("…" if line is None else line)
    if not excerpt:
        lines.append("(none)")
    return "\n".join(lines)


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{escaped}"'


def _short_href(href: str, page_url: str) -> str:
    """Same-origin links without their origin: shorter for the model, no less clear."""
    if len(href) > 200:
        href = href[:199] + "…"
    if not page_url:
        return href
    a, b = urlsplit(href), urlsplit(page_url)
    if (a.scheme, a.netloc) == (b.scheme, b.netloc) and a.scheme in ("http", "https"):
        return href[len(f"{a.scheme}://{a.netloc}") :] or "/"
    return href


# -- finding an element again -------------------------------------------------------------


def parse_element_id(element_id: str) -> str:
    """The frame prefix of an id (`e` or `f3e`), or ValueError for something else."""
    match = _ID.match(element_id.strip()) if isinstance(element_id, str) else None
    if match is None:
        raise ValueError(f"{element_id!r} is not an element id; ids look like e12 or f1e3")
    return f"f{match.group(1)}e" if match.group(1) else MAIN_PREFIX


async def find_element(page: Page, element_id: str) -> Locator:
    """A Locator for the element with that id, in its frame; ElementNotFound if it is gone."""
    locator, _ = await find_and_inspect(page, element_id, "(el) => null")
    return locator


async def find_and_inspect(page: Page, element_id: str, inspect_js: str) -> tuple[Locator, Any]:
    """find_element and `inspect_js` (a `(el) => value` function) run on the element, in
    one round trip to the browser: actions want both, and each round trip costs."""
    try:
        prefix = parse_element_id(element_id)
    except ValueError as exc:
        raise ElementNotFound(str(element_id), str(exc)) from None
    element_id = element_id.strip()
    frame = await _frame_for_prefix(page, prefix)
    if frame is None:
        raise ElementNotFound(
            element_id,
            f"Element {element_id} is not on the page any more; the frame it was in is gone",
        )
    locator = frame.locator(f'[{ID_ATTRIBUTE}="{element_id}"]')
    try:
        found = await locator.evaluate_all(
            f"(els) => els.length ? {{value: ({inspect_js})(els[0])}} : null"
        )
    except PlaywrightError:
        found = None  # the frame navigated or went away meanwhile
    if found is None:
        raise ElementNotFound(element_id)
    return locator.first, found.get("value")


async def element_frame(page: Page, element_id: str) -> Frame | None:
    """The frame an id belongs to (whether or not the element is still there)."""
    try:
        prefix = parse_element_id(element_id)
    except ValueError:
        return None
    return await _frame_for_prefix(page, prefix)


async def _frame_for_prefix(page: Page, prefix: str) -> Frame | None:
    if prefix == MAIN_PREFIX:
        return page.main_frame
    frames = [f for f in page.frames if f is not page.main_frame and not f.is_detached()]
    for frame in frames:
        if _frame_prefixes.get(frame) == prefix:
            return frame

    # Not observed through this Page object (another connection, a worker restart): ask.
    async def prefix_of(frame: Frame) -> str | None:
        try:
            return await frame.evaluate("() => window.__harrier && window.__harrier.prefix")
        except PlaywrightError:
            return None

    prefixes = await asyncio.gather(*(prefix_of(f) for f in frames))
    for frame, found in zip(frames, prefixes, strict=True):
        if found:
            _frame_prefixes[frame] = found
        if found == prefix:
            return frame
    return None
