// Nodes side by side with their pods grouped by namespace, the links between nodes drawn above
// them, and the Services with their backends below; redrawn whenever the lab changes.
import { api, el, svg, every } from './dom.js';

const NODE_W = 250;
const GAP = 70;
const POD_H = 40;
const NS_H = 22;
const HEAD_H = 74;
const LINK_SPACE = 90;

export function render(main) {
  const summary = el('p', { class: 'summary', id: 'topology-summary' });
  const drawing = el('div', { class: 'drawing', id: 'topology' });
  const services = el('div', { id: 'services' });
  main.replaceChildren(el('h1', {}, 'Topology'), summary, drawing, el('h2', {}, 'Services'), services);
  let last = '';
  return every(2000, async () => {
    const t = await api('topology');
    const text = JSON.stringify(t);
    if (text === last) return;
    last = text;
    summary.textContent = `lab ${t.lab} · routing ${t.routing} · dataplane ${t.dataplane} · `
      + `Services by ${t.proxy} · datastore ${t.datastore}`;
    drawing.replaceChildren(draw(t));
    services.replaceChildren(serviceTable(t.services));
  });
}

function groups(pods) {
  const byNs = new Map();
  for (const p of pods) {
    if (!byNs.has(p.namespace)) byNs.set(p.namespace, []);
    byNs.get(p.namespace).push(p);
  }
  return [...byNs.entries()].sort((a, b) => a[0].localeCompare(b[0]));
}

function nodeHeight(n) {
  const g = groups(n.pods);
  return HEAD_H + g.length * NS_H + n.pods.length * (POD_H + 6) + 12;
}

function draw(t) {
  const height = Math.max(120, ...t.nodes.map(nodeHeight));
  const width = t.nodes.length * (NODE_W + GAP) + GAP;
  const root = svg('svg', {
    width, height: height + LINK_SPACE + 20, viewBox: `0 0 ${width} ${height + LINK_SPACE + 20}`,
    role: 'img', 'aria-label': 'lab topology',
  });
  const x = (i) => GAP + i * (NODE_W + GAP);
  const index = new Map(t.nodes.map((n, i) => [n.name, i]));
  drawLinks(root, t.links, index, x);
  t.nodes.forEach((n, i) => root.append(nodeBox(n, x(i), LINK_SPACE, t)));
  if (t.unscheduled.length) {
    root.append(svg('text', { x: GAP, y: height + LINK_SPACE + 14, class: 'muted' },
      `pending: ${t.unscheduled.map((p) => `${p.namespace}/${p.name}`).join(', ')}`));
  }
  return root;
}

function drawLinks(root, links, index, x) {
  // One arc per pair of nodes; BGP reports a session from each side, both are shown.
  const pairs = new Map();
  for (const l of links) {
    if (!index.has(l.from) || !index.has(l.to)) continue;
    const [a, b] = [l.from, l.to].sort();
    const key = `${a}|${b}`;
    if (!pairs.has(key)) pairs.set(key, { a, b, kind: l.kind, states: [] });
    pairs.get(key).states.push(l);
  }
  for (const p of pairs.values()) {
    const i = index.get(p.a);
    const j = index.get(p.b);
    const x1 = x(i) + NODE_W / 2;
    const x2 = x(j) + NODE_W / 2;
    const rise = 20 + 22 * Math.abs(j - i);
    const up = p.states.every((s) => s.state === 'up' || s.state === 'Established');
    const label = p.kind === 'bgp'
      ? `BGP ${[...new Set(p.states.map((s) => s.state))].join(' / ')}`
      : `VXLAN ${p.states[0].state}`;
    const g = svg('g', { class: `link ${up ? 'up' : 'down'}`, dataset: { link: `${p.a}-${p.b}` } },
      svg('title', {}, p.states.map((s) => `${s.from} → ${s.to}: ${s.kind} ${s.state} (${s.detail})`).join('\n')),
      svg('path', { d: `M ${x1} ${LINK_SPACE} C ${x1} ${LINK_SPACE - rise}, ${x2} ${LINK_SPACE - rise}, ${x2} ${LINK_SPACE}` }),
      svg('text', { x: (x1 + x2) / 2, y: LINK_SPACE - rise * 0.75 - 4, 'text-anchor': 'middle' }, label));
    root.append(g);
  }
}

function nodeBox(n, x, y, t) {
  const g = svg('g', { class: 'node', dataset: { node: n.name } });
  const h = nodeHeight(n);
  const a = n.agent;
  const health = a.ready ? 'agent ready' : a.running ? 'agent not ready' : 'agent stopped';
  g.append(
    svg('rect', { x, y, width: NODE_W, height: h, rx: 8, class: a.ready ? 'node-box' : 'node-box unhealthy' }),
    svg('text', { x: x + 12, y: y + 22, class: 'node-name' }, n.name),
    svg('text', { x: x + 12, y: y + 40, class: 'muted' }, `${n.internalIp} · ${t.routing} · ${t.dataplane}`),
    svg('text', { x: x + 12, y: y + 58, class: a.ready ? 'ok' : 'bad' },
      `${health}${a.health.datastoreRevision !== undefined ? ` · rev ${a.health.datastoreRevision}` : ''}`),
  );
  let py = y + HEAD_H;
  for (const [ns, pods] of groups(n.pods)) {
    g.append(svg('text', { x: x + 12, y: py + 14, class: 'ns-label' }, `namespace ${ns}`));
    py += NS_H;
    for (const p of pods) {
      const labels = Object.entries(p.labels).map(([k, v]) => `${k}=${v}`).join(', ');
      g.append(svg('g', { class: `pod ${p.phase === 'Running' ? '' : 'pending'}`, dataset: { pod: `${p.namespace}/${p.name}` } },
        svg('title', {}, `${p.namespace}/${p.name}\n${(p.ips && p.ips.length ? p.ips.join(', ') : p.ip) || 'no address'} · ${p.phase}\nlabels: ${labels || 'none'}`),
        svg('rect', { x: x + 10, y: py, width: NODE_W - 20, height: POD_H, rx: 5 }),
        svg('text', { x: x + 20, y: py + 16, class: 'pod-name' }, p.name),
        svg('text', { x: x + NODE_W - 20, y: py + 16, 'text-anchor': 'end', class: 'mono' }, p.ip || p.phase),
        svg('text', { x: x + 20, y: py + 32, class: 'muted small' }, labels.length > 34 ? `${labels.slice(0, 33)}…` : labels)));
      py += POD_H + 6;
    }
  }
  return g;
}

function serviceTable(services) {
  if (!services.length) return el('p', { class: 'muted' }, 'No Services.');
  return el('table', { class: 'grid services' },
    el('thead', {}, el('tr', {}, ['Service', 'Type', 'Cluster IP', 'Ports', 'Backends'].map((h) => el('th', {}, h)))),
    el('tbody', {}, services.map((s) => el('tr', { dataset: { service: `${s.namespace}/${s.name}` } },
      el('td', {}, `${s.namespace}/${s.name}`),
      el('td', {}, s.type),
      el('td', { class: 'mono' }, s.clusterIP),
      el('td', { class: 'mono' }, s.ports.join(', ')),
      el('td', {}, s.backends.length
        ? s.backends.map((b) => el('span', { class: `backend ${b.ready ? '' : 'not-ready'}` },
          `${b.pod || '?'} ${b.ip} on ${b.node || '?'}`))
        : el('span', { class: 'bad' }, 'no endpoints')),
    ))));
}
