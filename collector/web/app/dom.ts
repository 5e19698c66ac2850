/**
 * The only way the console builds DOM. Text goes in through `textContent` (via text nodes) and
 * attributes through `setAttribute` with a whitelist, so a USB product name such as
 * `<img src=x onerror=alert(1)>` can only ever be shown as text. There is no innerHTML anywhere.
 */

export type Child = Node | string | number | null | undefined | false | readonly Child[];

/** Event handlers go in `on`, never as `on*` attributes. */
export type Handlers = { [K in keyof HTMLElementEventMap]?: (ev: HTMLElementEventMap[K]) => void };

export interface Attrs {
  [name: string]: string | number | boolean | null | undefined | Handlers | Record<string, string>;
}

// SECURITY: no on* handlers, no style (CSP forbids inline style anyway), no src/srcdoc/action/formaction.
const HTML_ATTRS = new Set([
  'id', 'class', 'title', 'lang', 'dir', 'role', 'tabindex', 'hidden',
  'href', 'download', 'type', 'name', 'value', 'placeholder', 'for', 'autocomplete', 'inputmode',
  'required', 'disabled', 'checked', 'selected', 'readonly', 'multiple',
  'min', 'max', 'step', 'minlength', 'maxlength', 'pattern', 'size', 'rows', 'cols', 'spellcheck',
  'colspan', 'rowspan', 'scope', 'datetime', 'open', 'novalidate',
  'aria-label', 'aria-live', 'aria-current', 'aria-sort', 'aria-busy', 'aria-expanded',
  'aria-hidden', 'aria-invalid', 'aria-required', 'aria-describedby', 'aria-modal', 'aria-pressed', 'aria-selected',
]);

const SVG_ATTRS = new Set([
  'class', 'role', 'aria-label', 'aria-hidden', 'viewBox', 'preserveAspectRatio', 'width', 'height',
  'x', 'y', 'x1', 'y1', 'x2', 'y2', 'cx', 'cy', 'r', 'rx', 'ry', 'd', 'points', 'transform',
  'text-anchor', 'dominant-baseline', 'fill', 'stroke', 'stroke-width', 'stroke-dasharray', 'opacity',
]);

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Same-origin only: `#/route`, `/path` or `?query` — never `javascript:`, `//host` or `http:`. */
export function isSafeHref(href: string): boolean {
  return /^(#|\/(?![/\\])|\?)[^\s\\]*$/.test(href);
}

function isDataAttr(name: string): boolean {
  return /^data-[a-z][a-z0-9-]{0,40}$/.test(name);
}

function setAttrs(el: Element, attrs: Attrs | null | undefined, allowed: ReadonlySet<string>): void {
  if (!attrs) return;
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'on') {
      for (const [ev, fn] of Object.entries(value as Handlers)) {
        if (typeof fn === 'function') el.addEventListener(ev, fn as EventListener);
      }
      continue;
    }
    if (name === 'style') {
      // CSSOM writes are allowed by the CSP; style attributes are not.
      for (const [prop, v] of Object.entries(value as Record<string, string>)) (el as HTMLElement).style.setProperty(prop, v);
      continue;
    }
    if (!allowed.has(name) && !isDataAttr(name)) throw new Error(`attribute not allowed: ${name}`);
    if (value === null || value === undefined || value === false) continue;
    const text = value === true ? '' : String(value);
    if (name === 'href' && !isSafeHref(text)) throw new Error('unsafe href');
    el.setAttribute(name, text);
  }
}

function append(el: Node, children: readonly Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c as readonly Child[]);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Creates an HTML element; strings and numbers become text nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs, HTML_ATTRS);
  append(el, children);
  return el;
}

/** Creates an SVG element (charts); same rules as {@link h}. */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs, SVG_ATTRS);
  append(el, children);
  return el;
}

/** Replaces every child of `el`. */
export function mount(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}
