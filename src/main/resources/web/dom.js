// Small helpers to build DOM and SVG elements and to call the lab's JSON API.

/** el('div', {class: 'x', onclick: f}, child, 'text', ...) */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  return fill(e, attrs, children);
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

function fill(e, attrs, children) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** GET (or send) /api/PATH; an answer that is not 2xx throws its error message. */
export async function api(path, options = {}) {
  const r = await fetch('/api/' + path, options);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || `${r.status} ${r.statusText}`);
  return body;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '' && v !== false) q.set(k, v);
  }
  return q.toString();
}

/** Shows an error above the view; null hides it. */
export function showError(message) {
  const box = document.getElementById('error');
  box.hidden = !message;
  box.textContent = message || '';
}

/** Calls f now and every ms after the previous call ended; returns a function that stops it. */
export function every(ms, f) {
  let stopped = false;
  let timer;
  const run = async () => {
    try {
      await f();
      showError(null);
    } catch (e) {
      showError(e.message);
    }
    if (!stopped) timer = setTimeout(run, ms);
  };
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

export function journeyHref(from, to, port, proto) {
  return '/journey?' + query({ from, to, port, proto });
}
