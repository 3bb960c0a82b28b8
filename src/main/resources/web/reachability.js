// Who reaches whom on a port, probed with real traffic: rows are sources, columns destinations;
// each row also names the policies that isolate that pod. A cell opens the journey of its packet.
import { api, el, query, journeyHref, showError } from './dom.js';

export function render(main, params) {
  const form = el('form', { class: 'filters', id: 'reach-form' },
    el('label', {}, 'port ', el('input', { name: 'port', type: 'number', min: 1, max: 65535, value: params.get('port') || '80' })),
    el('label', {}, 'protocol ', el('select', { name: 'proto' },
      ['tcp', 'udp'].map((p) => el('option', { value: p, selected: params.get('proto') === p }, p)))),
    el('label', {}, 'namespaces ', el('input', { name: 'namespaces', placeholder: 'all', value: params.get('namespaces') || '' })),
    el('label', {}, el('input', { type: 'checkbox', name: 'auto', id: 'reach-auto', checked: params.get('auto') === '1' }), ' re-probe every 5 s'),
    el('button', { type: 'submit', id: 'reach-probe' }, 'Probe'));
  const status = el('p', { class: 'muted', id: 'reach-status' });
  const out = el('div', { id: 'reach-matrix' });
  main.replaceChildren(el('h1', {}, 'Reachability'), form, status, out,
    el('p', { class: 'legend' }, el('span', { class: 'cell allowed' }, '✓'), ' connected  ',
      el('span', { class: 'cell blocked' }, '✗'), ' blocked (real packets, one timeout of 1 s)'));

  let timer;
  let running = false;
  async function probe() {
    clearTimeout(timer);
    if (running) return;
    running = true;
    const f = Object.fromEntries(new FormData(form));
    history.replaceState(null, '', '/reachability?' + query({ port: f.port, proto: f.proto, namespaces: f.namespaces, auto: f.auto ? '1' : '' }));
    status.textContent = 'probing every pair…';
    try {
      const m = await api('reachability?' + query({ port: f.port, proto: f.proto, namespaces: f.namespaces }));
      out.replaceChildren(matrix(m));
      status.textContent = `${m.protocol.toUpperCase()} ${m.port}: probed at ${new Date().toLocaleTimeString()}`;
      showError(null);
    } catch (e) {
      status.textContent = '';
      showError(e.message);
    }
    running = false;
    if (form.elements.auto.checked) timer = setTimeout(probe, 5000);
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); probe(); });
  form.elements.auto.addEventListener('change', () => { if (form.elements.auto.checked) probe(); });
  probe();
  return () => clearTimeout(timer);
}

function matrix(m) {
  const iso = new Map(m.isolation.map((i) => [i.pod, i]));
  const head = el('tr', {}, el('th', { class: 'corner' }, 'from ↓ to →'),
    m.pods.map((p) => el('th', { class: 'col' }, el('span', {}, p))), el('th', {}, 'isolated by'));
  const rows = m.pods.map((from, i) => el('tr', {},
    el('th', { class: 'row' }, from),
    m.pods.map((to, j) => {
      const ok = m.matrix[i][j] === 1;
      return el('td', {
        class: `cell ${ok ? 'allowed' : 'blocked'}`,
        title: `${from} → ${to}: ${ok ? 'connected' : 'blocked'} (click for the journey)`,
        dataset: { from, to, state: ok ? 'allowed' : 'blocked' },
      }, el('a', { href: journeyHref(from, to, m.port, m.protocol) }, ok ? '✓' : '✗'));
    }),
    el('td', { class: 'isolation' }, isolation(iso.get(from)))));
  return el('table', { class: 'matrix' }, el('thead', {}, head), el('tbody', {}, rows));
}

function isolation(i) {
  if (!i || (!i.ingress.length && !i.egress.length)) return el('span', { class: 'muted' }, 'not isolated');
  const parts = [];
  if (i.ingress.length) parts.push(el('div', {}, 'ingress: ', i.ingress.join(', ')));
  if (i.egress.length) parts.push(el('div', {}, 'egress: ', i.egress.join(', ')));
  return parts;
}
