// The journey of one packet drawn as lanes, one per network namespace it crosses (pod, node, peer
// node, ...). Consecutive hops in one namespace stack in one column of its lane; columns follow
// the packet from left to right. Random branches (a Service's backends) are alternatives to pick.
import { api, el, svg, query, showError } from './dom.js';

export function render(main, params) {
  const form = el('form', { class: 'filters', id: 'journey-form' },
    el('label', {}, 'from ', el('select', { name: 'from', id: 'journey-from', required: true })),
    el('label', {}, 'to ', el('input', { name: 'to', id: 'journey-to', list: 'journey-targets', placeholder: 'NS/POD or IP', required: true, value: params.get('to') || '' })),
    el('datalist', { id: 'journey-targets' }),
    el('label', {}, 'port ', el('input', { name: 'port', type: 'number', min: 1, max: 65535, value: params.get('port') || '80' })),
    el('label', {}, 'protocol ', el('select', { name: 'proto' },
      ['tcp', 'udp', 'icmp'].map((p) => el('option', { value: p, selected: params.get('proto') === p }, p)))),
    el('label', {}, 'family ', el('select', { name: 'family', id: 'journey-family' },
      [['', 'primary'], ['4', 'IPv4'], ['6', 'IPv6']].map(([v, t]) => el('option', { value: v, selected: (params.get('family') || '') === v }, t)))),
    el('label', {}, el('input', { type: 'checkbox', name: 'reply', id: 'journey-reply-on', checked: params.get('reply') === 'true' }), ' the reply too'),
    el('label', {}, el('input', { type: 'checkbox', name: 'verify', id: 'journey-verify', checked: params.get('verify') === 'true' }), ' verify in the kernel'),
    el('button', { type: 'submit', id: 'journey-trace' }, 'Trace'));
  const out = el('div', { id: 'journey' });
  main.replaceChildren(el('h1', {}, 'Journey'), form, out);

  targets(form, params.get('from')).then(() => {
    if (params.get('from') && params.get('to')) trace();
  }).catch((e) => showError(e.message));

  form.addEventListener('submit', (e) => { e.preventDefault(); trace(); });

  async function trace() {
    const f = Object.fromEntries(new FormData(form));
    const q = query({ from: f.from, to: f.to, port: f.port, proto: f.proto, family: f.family, reply: f.reply ? 'true' : '', verify: f.verify ? 'true' : '' });
    history.replaceState(null, '', '/journey?' + q);
    out.replaceChildren(el('p', { class: 'muted' }, f.verify ? 'tracing, and sending the packet for real…' : 'tracing…'));
    try {
      const j = await api('trace?' + q);
      showError(null);
      out.replaceChildren(...journey(j));
      drawArrows(out);
    } catch (e) {
      out.replaceChildren();
      showError(e.message);
    }
  }
}

async function targets(form, from) {
  const t = await api('topology');
  const pods = t.nodes.flatMap((n) => n.pods).filter((p) => p.phase === 'Running' && p.ip);
  const select = form.elements.from;
  select.replaceChildren(...pods.map((p) => {
    const name = `${p.namespace}/${p.name}`;
    return el('option', { value: name, selected: name === from }, name);
  }));
  if (from && !pods.some((p) => `${p.namespace}/${p.name}` === from)) {
    select.append(el('option', { value: from, selected: true }, from));
  }
  document.getElementById('journey-targets').replaceChildren(
    ...pods.map((p) => el('option', { value: `${p.namespace}/${p.name}` }, p.ip)),
    ...t.services.filter((s) => s.clusterIP).map((s) => el('option', { value: s.clusterIP }, `service ${s.namespace}/${s.name}`)));
}

function journey(j) {
  const parts = [summary(j)];
  const branches = j.branches || [];
  if (!branches.length) {
    parts.push(drawing(j.hops, j, packetText(j.packet)));
  } else {
    const holder = el('div', { id: 'journey-drawing' });
    const pick = (i) => {
      holder.replaceChildren(drawing([...j.hops, ...branches[i].hops], branches[i], packetText(j.packet)));
      requestAnimationFrame(() => drawArrows(holder));
      document.querySelectorAll('.branch-choice').forEach((b, k) => b.classList.toggle('chosen', k === i));
    };
    parts.push(el('div', { class: 'branches', id: 'journey-branches' },
      el('span', {}, `${branches.length} random branches: `),
      branches.map((b, i) => el('button', {
        type: 'button', class: `branch-choice ${b.verdict}`, dataset: { branch: b.branch },
        onclick: () => pick(i),
      }, `${b.branch}: ${Math.round(b.probability * 1000) / 10}% ${b.reason}`))));
    parts.push(holder);
    setTimeout(() => pick(0));
  }
  if (j.verify) parts.push(verifyPanel(j.verify));
  return parts;
}

function summary(j, id = 'journey') {
  const p = j.packet;
  const ports = p.proto === 'icmp' ? '' : `:${p.dport}`;
  return el('div', { class: 'journey-summary' },
    el('span', { class: 'mono' }, `${p.proto} ${p.src}${p.proto === 'icmp' ? '' : `:${p.sport}`} → ${p.dst}${ports}`),
    ' from ', j.from, ': ',
    el('span', { class: `verdict ${j.verdict}`, id: `${id}-verdict` }, j.verdict),
    ' ', el('span', { id: `${id}-reason` }, j.reason));
}

/** Runs of consecutive hops in one namespace. */
function segments(hops) {
  const out = [];
  for (const h of hops) {
    const last = out[out.length - 1];
    if (last && last.netns === h.netns) last.hops.push(h);
    else out.push({ netns: h.netns, at: h.at, hops: [h] });
  }
  return out;
}

function laneKind(netns) {
  if (netns.includes('-pod-')) return 'pod';
  if (netns.includes('-node-')) return 'node';
  if (netns.endsWith('-router')) return 'router';
  if (netns.endsWith('-fabric')) return 'fabric';
  return 'other';
}

/** The packet as hops print it, so that the first rewrite is seen as one. */
function packetText(p) {
  return p.proto === 'icmp' ? null : `${p.proto} ${p.src}:${p.sport} > ${p.dst}:${p.dport}`;
}

function drawing(hops, outcome, sent, id = 'journey') {
  const segs = segments(hops);
  const lanes = [...new Map(segs.map((s) => [s.netns, s.at])).entries()];
  const grid = el('div', { class: 'lanes' });
  const flows = new Map();
  lanes.forEach(([ns, at]) => {
    const kind = laneKind(ns);
    grid.append(el('div', { class: `lane-label ${kind}`, title: ns, dataset: { lane: at } },
      el('strong', {}, at), el('small', {}, kind)));
    const flow = el('div', { class: `lane-flow ${kind}` });
    flows.set(ns, flow);
    grid.append(flow);
  });
  let packet = sent;
  let tunnelled = false;
  segs.forEach((s, c) => {
    const seg = el('div', { class: 'segment' });
    for (const group of hookGroups(s.hops)) {
      let nat = null;
      for (const h of group) {
        // Between encapsulation and decapsulation hops see the outer packet: that is no NAT.
        if (h.step === 'vxlan-encap') tunnelled = true;
        if (h.step === 'vxlan-decap') tunnelled = false;
        if (h.packet && !tunnelled) {
          if (packet && h.packet !== packet) nat = `${packet} ⇒ ${h.packet}`;
          packet = h.packet;
        }
      }
      seg.append(group.length === 1 && group[0].step !== 'netfilter' ? hopBox(group[0], nat) : hookBox(group, nat));
    }
    if (c === segs.length - 1) seg.append(verdictBox(outcome, `${id}-end`));
    flows.get(s.netns).append(seg);
  });
  const wrap = el('div', { class: 'lanes-wrap' }, grid);
  return el('div', {}, natList(outcome.nat || [], `${id}-nat`), wrap, outcome.reply ? replySection(outcome.reply) : '');
}

/** Consecutive netfilter hops of one hook on one device: one box, one line per rule met. */
function hookGroups(hops) {
  const out = [];
  for (const h of hops) {
    const last = out[out.length - 1];
    const same = last && h.step === 'netfilter' && last[0].step === 'netfilter'
      && last[0].hook === h.hook && last[0].iface === h.iface;
    if (same) last.push(h);
    else out.push([h]);
  }
  return out;
}

const NAT_RULE = /(-j (DNAT|SNAT|MASQUERADE)\b)|\b(dnat|snat) to\b|\bmasquerade\b/;

function hookBox(group, nat) {
  const first = group[0];
  const last = group[group.length - 1];
  const numbers = group.length === 1 ? first.n : `${first.n}–${last.n}`;
  return el('div', { class: 'hop step-netfilter', dataset: { hop: first.n, step: 'netfilter' } },
    el('div', { class: 'hop-head' }, el('span', { class: 'n' }, numbers), ` ${first.hook}`,
      el('small', {}, ` netfilter${first.iface ? ` · on ${first.iface}` : ''}`)),
    el('ol', { class: 'rules' }, group.map((h) => el('li', { title: h.detail, class: h.rule && NAT_RULE.test(h.rule) ? 'nat-rule' : '' },
      el('span', { class: 'chain' }, `${h.table || ''}/${h.chain || ''}${h.position !== undefined ? ` #${h.position}` : ''}`),
      h.rule ? el('code', { class: 'rule' }, h.rule) : el('span', { class: 'detail' }, ` ${policyOf(h)}`)))),
    nat ? el('div', { class: 'nat-change' }, 'NAT: ', el('span', { class: 'mono' }, nat)) : '');
}

/** A chain's end without a rule: its policy, as the detail words it. */
function policyOf(h) {
  const m = /policy (\w+)/.exec(h.detail || '');
  return m ? `policy ${m[1]}` : h.detail;
}

/** The way back of a delivered packet: its own journey, drawn the same way below. */
function replySection(r) {
  const outcome = r.branches && r.branches.length ? r.branches[0] : r;
  const hops = r.branches && r.branches.length ? [...r.hops, ...outcome.hops] : r.hops;
  return el('section', { class: 'reply', id: 'journey-reply' },
    el('h2', {}, 'The reply'),
    summary(r, 'reply'),
    drawing(hops, outcome, packetText(r.packet), 'reply'));
}

function natList(nat, id) {
  if (!nat.length) return el('div');
  return el('div', { class: 'nat-list', id }, nat.map((n) =>
    el('span', { class: 'nat' }, `${n.kind} ${n.before} → ${n.after}`, el('small', {}, ` at ${n.where}`))));
}

function hopBox(h, nat) {
  const where = [h.iface && `on ${h.iface}`, h.hook].filter(Boolean).join(' · ');
  const chain = h.table || h.chain
    ? `${h.table || ''}${h.chain ? ` / ${h.chain}` : ''}${h.position !== undefined ? ` #${h.position}` : ''}` : '';
  // conntrack undoing a translation on the way back is NAT too, though the packet field stays.
  const undoes = h.step === 'conntrack' && /translat/.test(h.detail || '');
  const box = el('div', { class: `hop step-${h.step}${undoes ? ' nat-hop' : ''}`, title: h.detail, dataset: { hop: h.n, step: h.step } },
    el('div', { class: 'hop-head' }, el('span', { class: 'n' }, h.n), ` ${h.step}`, where ? el('small', {}, ` ${where}`) : ''),
    chain ? el('div', { class: 'chain' }, chain) : '',
    h.rule ? el('code', { class: 'rule' }, h.rule) : '',
    h.bpf ? bpf(h.bpf) : '',
    !h.rule && !h.bpf ? el('div', { class: 'detail' }, h.detail) : '',
    nat ? el('div', { class: 'nat-change' }, 'NAT: ', el('span', { class: 'mono' }, nat)) : '');
  return box;
}

function bpf(b) {
  return el('div', { class: 'bpf' },
    el('div', {}, el('strong', {}, b.program), ` → ${b.action}`),
    b.choice ? el('div', { class: 'choice' }, b.choice) : '',
    b.lookups.length ? el('details', {}, el('summary', {}, `${b.lookups.length} map lookups`),
      el('ul', {}, b.lookups.map((l) => el('li', { class: 'mono' }, `${l.map}[${l.key}] = ${l.result}`)))) : '');
}

function verdictBox(o, id) {
  return el('div', { class: `hop verdict-box ${o.verdict}`, id },
    el('div', { class: 'hop-head' }, o.verdict),
    el('div', {}, o.reason),
    o.rule ? el('code', { class: 'rule deciding' }, o.rule) : '');
}

function verifyPanel(v) {
  return el('section', { class: `verify ${v.agree ? 'agree' : 'differ'}`, id: 'journey-verify-result' },
    el('h2', {}, v.agree ? 'The kernel agrees' : 'The kernel differs'),
    el('p', {}, `Branch ${v.branch}: model ${v.modelVerdict}, kernel ${v.kernelVerdict}.`),
    v.differences.length ? el('ul', { class: 'differences' }, v.differences.map((d) => el('li', {}, d))) : '',
    v.notes.length ? el('ul', { class: 'notes' }, v.notes.map((d) => el('li', {}, d))) : '',
    v.kernelPath.length ? el('details', {}, el('summary', {}, `the kernel's path: ${v.kernelPath.length} rules`),
      el('table', { class: 'grid' }, v.kernelPath.map((s) => el('tr', {},
        el('td', {}, s.netns), el('td', {}, `${s.table} / ${s.chain} #${s.position}`),
        el('td', { class: 'mono' }, s.rule), el('td', {}, s.verdict))))) : '',
    v.kernelPrograms.length ? el('details', {}, el('summary', {}, `the kernel's programs: ${v.kernelPrograms.length} runs`),
      el('table', { class: 'grid' }, v.kernelPrograms.map((s) => el('tr', {},
        el('td', {}, s.netns), el('td', {}, `${s.program} on ${s.device}`),
        el('td', { class: 'mono' }, s.packet), el('td', {}, s.action))))) : '');
}

/** Arrows where the packet leaves one namespace for the next: last hop there, first hop here. */
function drawArrows(container) {
  for (const wrap of container.querySelectorAll('.lanes-wrap')) {
    wrap.querySelector('svg.arrows')?.remove();
    const segs = [...wrap.querySelectorAll('.segment')];
    const base = wrap.getBoundingClientRect();
    const layer = svg('svg', { class: 'arrows', width: wrap.scrollWidth, height: wrap.scrollHeight },
      svg('defs', {}, svg('marker', { id: 'head', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        svg('path', { d: 'M 0 0 L 10 5 L 0 10 z' }))));
    for (let i = 0; i + 1 < segs.length; i++) {
      const a = segs[i].lastElementChild.getBoundingClientRect();
      const b = segs[i + 1].firstElementChild.getBoundingClientRect();
      const x1 = a.left + a.width / 2 - base.left;
      const y1 = a.bottom - base.top;
      const x2 = b.left + b.width / 2 - base.left;
      const y2 = b.top - base.top;
      const bend = Math.max(20, (y2 - y1) / 2);
      layer.append(svg('path', { d: `M ${x1} ${y1} C ${x1} ${y1 + bend}, ${x2} ${y2 - bend}, ${x2} ${y2}`, 'marker-end': 'url(#head)' }));
    }
    wrap.prepend(layer);
  }
}
