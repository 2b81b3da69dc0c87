// Evaluated by runs/agent/observe.py in every frame of a page: `frame.evaluate(source, args)`.
//
// Finds the visible interactive elements of this frame's document and the visible
// text blocks, and gives every element a short id that stays the same for as long
// as the node lives. The id is kept in a WeakMap (the truth) and mirrored into the
// data-harrier-id attribute (so Playwright can find the node with a CSS selector);
// an attribute that the WeakMap does not vouch for (a cloned node, a page copying
// markup around) is dropped, so ids never repeat inside one document.
//
// Returns a JSON string (see the end).
// args: {prefix: "e" | null, candidate: "f3e" | null, reserveFrames: int,
//        maxElements: int, maxOptions: int, maxTableRows: int}
// The main frame passes prefix "e" and reserves numbers for its child frames; a
// child frame keeps the prefix it got the first time and otherwise takes its candidate.
(args) => {
  const ATTR = "data-harrier-id";
  const H = (window.__harrier ||= { ids: new WeakMap(), next: 1, nextFrame: 1, prefix: null });
  if (!H.prefix) H.prefix = args.prefix || args.candidate;
  // A child frame seen before but since navigated: Python reserves a number and asks again.
  if (!H.prefix) return JSON.stringify({ prefix: null });
  let firstFrame = null;
  if (args.reserveFrames) {
    firstFrame = H.nextFrame;
    H.nextFrame += args.reserveFrames;
  }

  const doc = document;
  const root = doc.documentElement;
  const vw = window.innerWidth;
  const vh = window.innerHeight;
  const sx = window.scrollX;
  const sy = window.scrollY;
  const docW = Math.max(root ? root.scrollWidth : 0, doc.body ? doc.body.scrollWidth : 0, vw);
  const docH = Math.max(root ? root.scrollHeight : 0, doc.body ? doc.body.scrollHeight : 0, vh);

  const collapse = (s) => (s || "").replace(/\s+/g, " ").trim();
  const cap = (s, n) => (s.length > n ? s.slice(0, n - 1) + "…" : s);

  // Drop attributes that this script did not set on that very node (clones, copied markup).
  for (const el of doc.querySelectorAll(`[${ATTR}]`)) {
    if (H.ids.get(el) !== el.getAttribute(ATTR)) el.removeAttribute(ATTR);
  }
  const idFor = (el) => {
    let id = H.ids.get(el);
    if (!id) {
      id = H.prefix + H.next++;
      H.ids.set(el, id);
    }
    if (el.getAttribute(ATTR) !== id) el.setAttribute(ATTR, id);
    return id;
  };

  const SKIP = new Set(["script", "style", "noscript", "template", "head", "meta", "link", "iframe", "frame", "object"]);
  const ROLES = new Set([
    "button", "link", "checkbox", "radio", "tab", "menuitem", "menuitemcheckbox",
    "menuitemradio", "option", "switch", "combobox", "textbox", "searchbox", "slider",
    "spinbutton", "treeitem",
  ]);
  const CONTROLS = new Set(["input", "select", "textarea", "button"]);
  const BUTTON_TYPES = new Set(["button", "submit", "reset", "image"]);
  const TEXT_ROLES = {
    search: "searchbox", range: "slider", number: "spinbutton", checkbox: "checkbox", radio: "radio",
  };

  function implicitRole(el, tag, type) {
    const explicit = (el.getAttribute("role") || "").trim().split(/\s+/)[0];
    if (explicit) return explicit;
    if (tag === "a" && el.hasAttribute("href")) return "link";
    if (tag === "button" || tag === "summary") return "button";
    if (tag === "select") return el.multiple || el.size > 1 ? "listbox" : "combobox";
    if (tag === "textarea") return "textbox";
    if (tag === "input") {
      if (BUTTON_TYPES.has(type)) return "button";
      if (type === "file") return "button";
      return TEXT_ROLES[type] || "textbox";
    }
    if (el.isContentEditable) return "textbox";
    return null;
  }

  // Why each kind of node counts as interactive; `null` means it does not on its own.
  function interactiveReason(el, tag) {
    if (tag === "input") return el.type === "hidden" ? null : "control";
    if (tag === "select" || tag === "textarea" || tag === "button") return "control";
    if (tag === "a" && el.hasAttribute("href")) return "link";
    if (tag === "summary") return "summary";
    const role = el.getAttribute("role");
    if (role && ROLES.has(role.trim().split(/\s+/)[0])) return "role";
    if (el.hasAttribute("onclick")) return "onclick";
    if (el.isContentEditable && !(el.parentElement && el.parentElement.isContentEditable)) return "editable";
    if (el.hasAttribute("tabindex") && el.tabIndex >= 0) return "tabindex";
    return null;
  }

  // The box of a rendered, on-document element, or null when a user could not see it.
  function visibleRect(el) {
    if (!el.checkVisibility({ visibilityProperty: true, checkVisibilityCSS: true })) return null;
    let r = el.getBoundingClientRect();
    if (r.width * r.height < 4) {
      // A link or button can collapse to nothing while its content (an icon, a float) shows.
      let found = null;
      for (const child of el.children) {
        const cr = child.getBoundingClientRect();
        if (cr.width * cr.height >= 4) {
          found = cr;
          break;
        }
      }
      if (!found) return null;
      r = found;
    }
    if (r.right + sx <= 0 || r.bottom + sy <= 0 || r.left + sx >= docW || r.top + sy >= docH) return null;
    // Visually-hidden idioms leave a sliver of a box; a real control is rarely that small.
    if ((r.width < 24 || r.height < 24) && clippedAway(el)) return null;
    return r;
  }

  // The "visually hidden" idioms: clip: rect(0 0 0 0), clip-path: inset(50%), or a 1px box
  // with overflow hidden around the element.
  function clippedAway(el) {
    let node = el;
    for (let depth = 0; node && node.nodeType === 1 && depth < 3; depth++, node = node.parentElement) {
      const style = getComputedStyle(node);
      if (/^rect\(0px,? 0px,? 0px,? 0px\)$/.test(style.clip)) return true;
      if (/^inset\((50|100)%\)$/.test(style.clipPath)) return true;
      if (depth > 0 && style.overflow !== "visible") {
        const r = node.getBoundingClientRect();
        if (r.width * r.height < 4) return true;
      }
    }
    return false;
  }

  function textExcept(node, skip) {
    let out = "";
    for (const c of node.childNodes) {
      if (c === skip) continue;
      if (c.nodeType === 3) out += c.data;
      else if (c.nodeType === 1) {
        const tag = c.localName;
        if (tag === "select" || tag === "textarea" || tag === "input" || SKIP.has(tag)) continue;
        out += " " + textExcept(c, skip) + " ";
      }
    }
    return out;
  }

  function byIds(el, attr) {
    const ids = (el.getAttribute(attr) || "").trim();
    if (!ids) return "";
    const scope = el.getRootNode();
    return collapse(
      ids.split(/\s+/).map((id) => {
        const ref = scope.getElementById ? scope.getElementById(id) : doc.getElementById(id);
        return ref ? ref.innerText || ref.textContent : "";
      }).join(" ")
    );
  }

  function visibleText(el, tag) {
    if (tag === "input" || tag === "select" || tag === "textarea") return "";
    return collapse(el.innerText);
  }

  function accessibleName(el, control, tag, type, text) {
    const target = control || el;
    let name = byIds(target, "aria-labelledby") || collapse(target.getAttribute("aria-label"));
    if (name) return name;
    if (target.labels && target.labels.length) {
      name = collapse([...target.labels].map((l) => textExcept(l, target)).join(" "));
      if (name) return name;
    }
    if (tag === "input" && BUTTON_TYPES.has(type)) {
      name = collapse(el.value || el.getAttribute("alt")) || (type === "submit" ? "Submit" : type === "reset" ? "Reset" : "");
      if (name) return name;
    }
    // A text field's content is its value, not its name.
    if (text && !target.isContentEditable) return text;
    if (control && tag === "label") {
      name = collapse(textExcept(el, control));
      if (name) return name;
    }
    const img = el.querySelector && el.querySelector("img[alt], [aria-label], svg title");
    if (img) {
      name = collapse(img.getAttribute("alt") || img.getAttribute("aria-label") || img.textContent);
      if (name) return name;
    }
    return collapse(target.getAttribute("title") || target.getAttribute("placeholder"));
  }

  function describe(el, control, rect, reason) {
    const node = control || el;  // the node that holds the state (a label's hidden input)
    const tag = node.localName;
    const type = tag === "input" ? (node.type || "text").toLowerCase() : null;
    const role = implicitRole(node, tag, type);
    const text = control ? "" : visibleText(el, tag);
    const item = {
      id: idFor(el),
      tag,
      role,
      name: cap(accessibleName(el, control, control ? "label" : tag, type, text), 100),
      text: cap(text, 100),
      type,
      reason,
      box: [Math.round(rect.left), Math.round(rect.top), Math.round(rect.width), Math.round(rect.height)],
      inView: rect.bottom > 0 && rect.right > 0 && rect.top < vh && rect.left < vw,
      disabled: node.matches(":disabled") || node.getAttribute("aria-disabled") === "true",
    };
    if (control) item.via = "label";
    const placeholder = node.getAttribute("placeholder");
    if (placeholder) item.placeholder = cap(collapse(placeholder), 80);
    if (node.required || node.getAttribute("aria-required") === "true") item.required = true;
    if (node.readOnly) item.readonly = true;
    const expanded = node.getAttribute("aria-expanded");
    if (expanded !== null) item.expanded = expanded === "true";
    if (tag === "a" && node.hasAttribute("href")) item.href = node.href;
    if (tag === "input") {
      if (type === "checkbox" || type === "radio") item.checked = node.checked;
      else if (type === "password") item.value = node.value ? "********" : "";
      else if (type === "file") item.value = [...(node.files || [])].map((f) => f.name).join(", ");
      else if (!BUTTON_TYPES.has(type)) item.value = cap(node.value, 200);
      if (node.name) item.field = node.name;
    } else if (tag === "textarea") {
      item.value = cap(node.value, 200);
      if (node.name) item.field = node.name;
    } else if (tag === "select") {
      const options = [...node.options];
      item.options = options.slice(0, args.maxOptions).map((o) => ({
        label: cap(collapse(o.label || o.text), 80), value: o.value, selected: o.selected,
      }));
      item.optionCount = options.length;
      item.value = options.filter((o) => o.selected).map((o) => collapse(o.label || o.text)).join(", ");
      if (node.multiple) item.multiple = true;
      if (node.name) item.field = node.name;
    } else if (node.isContentEditable) {
      item.value = cap(collapse(node.innerText), 200);
    }
    const ariaChecked = node.getAttribute("aria-checked");
    if (ariaChecked !== null && item.checked === undefined) item.checked = ariaChecked === "true";
    const ariaSelected = node.getAttribute("aria-selected");
    if (ariaSelected !== null) item.selected = ariaSelected === "true";
    return item;
  }

  // A hidden checkbox/radio/file input styled through its label: the label is what a
  // user clicks, and Playwright retargets check/set_input_files from a label to its control.
  function visibleLabel(control) {
    if (!control.labels) return null;
    for (const label of control.labels) {
      const rect = visibleRect(label);
      if (rect) return [label, rect];
    }
    return null;
  }

  // Pass 1 finds candidates cheaply (box and visibility only); pass 2 describes the ones
  // kept, so a page with thousands of elements costs names and ids only for what is sent.
  const candidates = [];
  const seen = new Set();
  function visit(el, insideInteractive, parentPointer) {
    const tag = el.localName;
    if (SKIP.has(tag)) return;
    if (el.getAttribute("aria-hidden") === "true" || el.hasAttribute("inert")) return;
    let reason = interactiveReason(el, tag);
    let pointer = parentPointer;
    if (!reason && !insideInteractive) {
      // Frameworks attach click handlers without attributes; the pointer cursor gives them away.
      // Only the outermost pointer element counts, not every span inside it.
      pointer = getComputedStyle(el).cursor === "pointer";
      if (pointer && !parentPointer && tag !== "label" && tag !== "svg" && tag !== "html" && tag !== "body") reason = "pointer";
    }
    if (reason && !seen.has(el)) {
      const rect = visibleRect(el);
      if (rect) {
        seen.add(el);
        candidates.push({ el, control: null, rect, reason });
      } else if (CONTROLS.has(tag) && tag !== "button") {
        const labelled = visibleLabel(el);
        if (labelled && !seen.has(labelled[0])) {
          seen.add(labelled[0]);
          candidates.push({ el: labelled[0], control: el, rect: labelled[1], reason });
        }
      }
    }
    if (tag === "svg") return;  // icons: nothing inside them is a separate control
    const inner = insideInteractive || (reason !== null && reason !== "tabindex");
    for (const child of el.children) visit(child, inner, pointer);
    if (el.shadowRoot) for (const child of el.shadowRoot.children) visit(child, inner, pointer);
  }
  if (root) visit(root, false, false);

  // Too many: keep those in the viewport, then those within a viewport of it (form
  // controls first), then the nearest; runs/agent/observe.py applies the same rule
  // again across frames.
  const FORM_TAGS = new Set(["input", "select", "textarea"]);
  const FORM_ROLES = new Set(["textbox", "combobox", "checkbox", "radio", "searchbox", "switch"]);
  let droppedAbove = 0;
  let droppedBelow = 0;
  let kept = candidates;
  if (candidates.length > args.maxElements) {
    const rank = candidates.map((c, index) => {
      const r = c.rect;
      const distance = r.bottom <= 0 ? -r.bottom : r.top >= vh ? r.top - vh : 0;
      const near = distance === 0 && r.right > 0 && r.left < vw ? 0 : distance <= vh ? 1 : 2;
      const node = c.control || c.el;
      const form = FORM_TAGS.has(node.localName) || FORM_ROLES.has(node.getAttribute("role")) ? 0 : 1;
      return { index, key: [near, near ? form : 0, near ? distance : index] };
    });
    rank.sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1] || a.key[2] - b.key[2] || a.index - b.index);
    const keep = new Set(rank.slice(0, args.maxElements).map((r) => r.index));
    kept = [];
    candidates.forEach((c, index) => {
      if (keep.has(index)) kept.push(c);
      else if (c.rect.bottom <= 0) droppedAbove++;
      else droppedBelow++;
    });
  }
  const elements = kept.map((c) => describe(c.el, c.control, c.rect, c.reason));

  // ---- visible text, in blocks with their vertical position, tables as rows ------------
  const BLOCK = new Set([
    "address", "article", "aside", "blockquote", "details", "dialog", "dd", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "ul", "legend", "caption",
    "summary", "body", "center",
  ]);
  const TEXT_SKIP = new Set([...SKIP, "select", "textarea", "button", "svg", "canvas", "video", "audio", "input", "option"]);
  const blocks = [];
  const headingLevel = (tag) => (/^h[1-6]$/.test(tag) ? Number(tag[1]) : 0);

  // Visible text under el, without form controls' own text (a <select> lists all its options).
  const SPACED = new Set([...BLOCK, "br", "td", "th", "tr", "li", "label", "img"]);
  // With `own`, text inside links, buttons and labels is left out: a line that has no
  // other text repeats the element list (a nav bar, a grid of buttons) and is dropped.
  const ELEMENT_TEXT = "a[href], button, summary, label, [role=button], [role=link], [role=tab], [role=menuitem], [role=option], [role=checkbox], [role=radio], [role=switch]";
  function textOf(el, own) {
    let out = "";
    for (const node of el.childNodes) {
      if (node.nodeType === 3) out += node.data;
      else if (node.nodeType === 1) {
        const tag = node.localName;
        if (TEXT_SKIP.has(tag) || (own && node.matches(ELEMENT_TEXT)) || !node.checkVisibility()) continue;
        if (node.shadowRoot) out += " " + textOf(node.shadowRoot, own) + " ";
        else if (SPACED.has(tag)) out += " " + textOf(node, own) + " ";
        else out += textOf(node, own);
      }
    }
    return out;
  }

  function block(text, el, kind) {
    text = collapse(text);
    if (!text) return null;
    const level = headingLevel(el.localName);
    if (level) text = "#".repeat(level) + " " + text;
    else if (el.localName === "li") text = "- " + text;
    const r = el.getBoundingClientRect();
    return { text: cap(text, 500), y: Math.round(r.top), h: Math.round(r.height), kind };
  }

  function tableBlocks(table) {
    const out = [];
    const rows = [...table.rows];
    const caption = table.caption && collapse(textOf(table.caption, false));
    if (caption) out.push(block(caption, table.caption, "text"));
    for (const row of rows.slice(0, args.maxTableRows)) {
      if (!row.checkVisibility()) continue;
      const cells = [...row.cells].map((c) => collapse(textOf(c, false)).replace(/\|/g, "/"));
      if (cells.every((c) => !c)) continue;
      const b = block("| " + cells.join(" | ") + " |", row, "row");
      if (b) out.push(b);
    }
    if (rows.length > args.maxTableRows) {
      const b = block(`… ${rows.length - args.maxTableRows} more rows in this table`, table, "row");
      if (b) out.push(b);
    }
    return out.filter(Boolean);
  }

  // Returns the blocks of el's subtree in document order, or null when the subtree is
  // only inline content (its parent then reads it as part of a line).
  function textVisit(el) {
    const tag = el.localName;
    if (TEXT_SKIP.has(tag)) return null;
    if (tag === "table") return el.checkVisibility() ? tableBlocks(el) : [];
    const results = new Map();
    let anyBlock = false;
    for (const child of el.children) {
      const res = textVisit(child);
      if (res) {
        results.set(child, res);
        anyBlock = true;
      }
    }
    if (!anyBlock) {
      if (!BLOCK.has(tag)) return null;
      if (el.matches(ELEMENT_TEXT) || !el.checkVisibility() || !textOf(el, true).trim()) return [];
      const b = block(textOf(el, false), el, "text");
      return b ? [b] : [];
    }
    // Mixed content: runs of inline nodes between the block children become lines.
    const out = [];
    let run = "";
    let ownRun = "";
    let runEl = null;
    const flush = () => {
      if (runEl && ownRun.trim()) {
        const b = block(run, runEl, "text");
        if (b) out.push(b);
      }
      run = "";
      ownRun = "";
      runEl = null;
    };
    for (const node of el.childNodes) {
      if (node.nodeType === 3) {
        if (node.data.trim()) {
          run += node.data;
          ownRun += node.data;
          runEl = runEl || el;
        }
      } else if (node.nodeType === 1) {
        const res = results.get(node);
        if (res) {
          flush();
          out.push(...res);
        } else if (!TEXT_SKIP.has(node.localName) && node.checkVisibility()) {
          const spaced = SPACED.has(node.localName);
          const text = textOf(node, false);
          run += spaced ? " " + text + " " : text;
          if (!node.matches(ELEMENT_TEXT)) ownRun += textOf(node, true);
          runEl = runEl || node;
        }
      }
    }
    flush();
    return out;
  }
  if (doc.body) blocks.push(...(textVisit(doc.body) || []));

  // A JSON string: Playwright's structured serialisation of a large object costs
  // hundreds of milliseconds on the Python side; one string costs almost nothing.
  return JSON.stringify({
    prefix: H.prefix,
    firstFrame,
    url: location.href,
    title: doc.title,
    viewport: { width: vw, height: vh, scrollX: Math.round(sx), scrollY: Math.round(sy), docWidth: docW, docHeight: docH },
    elements,
    droppedAbove,
    droppedBelow,
    blocks,
  });
}
