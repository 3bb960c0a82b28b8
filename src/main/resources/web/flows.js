// The live flows of the nodes' datapaths, newest first, filtered by the server; a dropped flow
// links to the policy that dropped it and to the journey of the same packet.
import { api, el, every, query, journeyHref } from './dom.js';

const KEEP = 500;

export function render(main, params) {
  const form = el('form', { class: 'filters', id: 'flow-filters' },
    field('pod', 'pod', 'NS/POD', params.get('pod')),
    field('namespace', 'namespace', 'namespace', params.get('namespace')),
    el('label', {}, 'verdict ', el('select', { name: 'verdict' },
      ['', 'FORWARDED', 'DROPPED', 'REJECTED'].map((v) => el('option', { value: v, selected: params.get('verdict') === v }, v || 'any')))),
    field('service', 'service', 'NS/NAME', params.get('service')),
    el('button', { type: 'submit' }, 'Filter'));
  const body = el('tbody', { id: 'flow-rows' });
  const table = el('table', { class: 'grid flows' },
    el('thead', {}, el('tr', {}, ['Time', 'Node', 'Source', 'Destination', 'Verdict', 'Why', 'Journey']
      .map((h) => el('th', {}, h)))), body);
  const panel = el('aside', { id: 'policy-panel', hidden: true });
  main.replaceChildren(el('h1', {}, 'Flows'), form, el('div', { class: 'split' }, table, panel));

  let stop = start();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    stop();
    body.replaceChildren();
    const f = Object.fromEntries(new FormData(form));
    history.replaceState(null, '', '/flows?' + query(f));
    stop = start();
  });

  function start() {
    let cursor = '';
    const filter = Object.fromEntries(new FormData(form));
    return every(1000, async () => {
      const page = await api('flows?' + query({ ...filter, cursor }));
      cursor = page.cursor;
      for (const f of page.flows) body.prepend(row(f, panel));
      while (body.children.length > KEEP) body.lastChild.remove();
      if (!body.children.length) {
        body.append(el('tr', { class: 'empty' }, el('td', { colspan: 7 }, 'No flows yet.')));
      } else if (body.children.length > 1) {
        body.querySelectorAll('tr.empty').forEach((r) => r.remove());
      }
    });
  }
}

function field(name, label, placeholder, value) {
  return el('label', {}, `${label} `, el('input', { name, placeholder, value: value || '' }));
}

function endpoint(side, ip, port) {
  const who = side.pod_name ? `${side.namespace}/${side.pod_name}` : ip;
  return port ? `${who}:${port}` : who;
}

function l4(f) {
  for (const proto of ['TCP', 'UDP', 'SCTP']) {
    if (f.l4 && f.l4[proto]) return { proto, ...f.l4[proto] };
  }
  return { proto: 'ICMP' };
}

function row(f, panel) {
  const t = l4(f);
  const svc = f.destination_service ? ` (service ${f.destination_service.namespace}/${f.destination_service.name})` : '';
  const denied = [...(f.ingress_denied_by || []), ...(f.egress_denied_by || [])];
  const why = [];
  if (f.drop_reason_desc) why.push(el('span', { class: 'reason' }, f.drop_reason_desc));
  for (const p of denied) {
    why.push(' denied by ', el('a', {
      href: '#', class: 'policy-link', dataset: { policy: `${p.namespace}/${p.name}` },
      onclick: (e) => { e.preventDefault(); showPolicy(panel, p.namespace, p.name); },
    }, `${p.namespace}/${p.name}`));
  }
  const source = f.source || {};
  const dest = f.destination || {};
  const to = dest.pod_name && !f.destination_service ? `${dest.namespace}/${dest.pod_name}` : f.IP.destination;
  const canTrace = source.pod_name && !(f.is_reply && f.is_reply.value) && t.proto !== 'ICMP';
  return el('tr', { class: `flow ${f.verdict.toLowerCase()}`, dataset: { verdict: f.verdict } },
    el('td', { class: 'mono' }, f.time.slice(11, 23)),
    el('td', {}, f.node_name),
    el('td', {}, endpoint(source, f.IP.source, t.source_port)),
    el('td', {}, endpoint(dest, f.IP.destination, t.destination_port), svc),
    el('td', {}, el('span', { class: `verdict ${f.verdict.toLowerCase()}` }, f.verdict), ` ${t.proto}`),
    el('td', {}, why),
    el('td', {}, canTrace
      ? el('a', { class: 'trace-link', href: journeyHref(`${source.namespace}/${source.pod_name}`, to, t.destination_port, t.proto.toLowerCase()) }, 'trace')
      : ''));
}

async function showPolicy(panel, namespace, name) {
  panel.hidden = false;
  panel.replaceChildren(el('h2', {}, `NetworkPolicy ${namespace}/${name}`), el('p', { class: 'muted' }, 'loading…'));
  try {
    const p = await api(`resources/networkpolicies/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`);
    panel.replaceChildren(
      el('h2', {}, `NetworkPolicy ${namespace}/${name}`),
      el('pre', { class: 'policy' }, JSON.stringify(p.spec, null, 2)),
      el('button', { type: 'button', onclick: () => { panel.hidden = true; } }, 'Close'));
  } catch (e) {
    panel.replaceChildren(el('h2', {}, `NetworkPolicy ${namespace}/${name}`), el('p', { class: 'bad' }, e.message));
  }
}
