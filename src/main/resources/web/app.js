// Picks the view the address names; every view is a module with render(main, params).
import { api, el } from './dom.js';
import * as topology from './topology.js';
import * as flows from './flows.js';
import * as reachability from './reachability.js';
import * as journey from './journey.js';

const views = { topology, flows, reachability, journey };
const name = location.pathname.replace(/^\//, '') || 'topology';
const view = views[name] || topology;
document.querySelectorAll('nav a').forEach((a) => {
  if (a.dataset.view === name || (!views[name] && a.dataset.view === 'topology')) {
    a.classList.add('active');
  }
});
document.title = `Tweed · ${name}`;
view.render(document.getElementById('view'), new URLSearchParams(location.search));

api('status')
  .then((agents) => {
    const ready = agents.filter((a) => a.ready).length;
    document.getElementById('lab-summary').replaceChildren(
      el('span', { class: ready === agents.length ? 'ok' : 'bad' }, `${ready}/${agents.length} agents ready`));
  })
  .catch(() => {});
