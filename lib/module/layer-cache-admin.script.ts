/**
 * The inline script of the admin page, as a string (hashed into the page's Content-Security-Policy). It polls
 * `<page path>/stats` and draws the hit ratio over time (inline SVG), the stack's counters, a row per layer (latency
 * p50/p99 when the metrics carry it), single-flight and the bus.
 * Hard part: XSS safety — data only ever reaches the DOM through `textContent` and `setAttribute` of numbers, never
 * `innerHTML`; plain ES2017, no template literals (this file is a `String.raw` template).
 */
export const ADMIN_PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var url = location.pathname.replace(/\/+$/, '') + '/stats';
  var svgNs = 'http://www.w3.org/2000/svg';
  var $ = function (id) { return document.getElementById(id); };
  var interval = Number(document.body.getAttribute('data-interval')) || 5000;

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function pct(value) { return value === null || value === undefined ? '-' : (value * 100).toFixed(1) + ' %'; }
  function ms(value) { return typeof value === 'number' ? (value < 10 ? value.toFixed(2) : value.toFixed(0)) + ' ms' : '-'; }
  function num(value) { return typeof value === 'number' ? String(value) : '-'; }
  function replace(parent, children) {
    while (parent.firstChild) parent.removeChild(parent.firstChild);
    children.forEach(function (child) { parent.appendChild(child); });
  }
  function row(cells, header) {
    var tr = el('tr');
    cells.forEach(function (cell) { tr.appendChild(el(header ? 'th' : 'td', cell)); });
    return tr;
  }
  function latency(op) { return op && typeof op.count === 'number' ? ms(op.p50) + ' / ' + ms(op.p99) : '-'; }

  function cards(data) {
    var s = data.metrics.stack;
    var items = [
      ['hit ratio', pct(data.derived.hitRatio)], ['hits', s.hits], ['stale', s.stale], ['misses', s.misses],
      ['loads', s.loads], ['load errors', s.loadErrors], ['dedupes', s.dedupes], ['refreshes', s.refreshes],
      ['refresh errors', s.refreshErrors], ['open circuits', s.openCircuits], ['rate limited', s.rateLimited],
      ['loader p50 / p99', latency(data.metrics.loaderDuration)]
    ];
    replace($('cards'), items.map(function (item) {
      var card = el('div', undefined, 'card');
      card.appendChild(el('span', item[0], 'label'));
      card.appendChild(el('span', item[1], 'value'));
      card.setAttribute('data-name', item[0]);
      return card;
    }));
  }

  function layers(data) {
    var rows = [row(['layer', 'hit ratio', 'hits', 'misses', 'sets', 'errors', 'skipped', 'get p50 / p99', 'set p50 / p99'], true)];
    Object.keys(data.metrics.layers).forEach(function (name) {
      var l = data.metrics.layers[name];
      var lat = l.latency || {};
      var tr = row([name, pct((data.derived.layers[name] || {}).hitRatio), l.hits, l.misses, l.sets, l.errors, l.skipped, latency(lat.get), latency(lat.set)]);
      tr.setAttribute('data-layer', name);
      rows.push(tr);
    });
    replace($('layers'), rows);
  }

  function bus(data) {
    var b = data.metrics.bus;
    var sf = data.metrics.singleFlight;
    var rows = [];
    if (b) {
      rows.push(row(['bus', 'published ' + b.published, 'received ' + b.received, 'publish errors ' + b.publishErrors,
        'rejected ' + b.rejected, 'resyncs ' + b.resyncs, 'lag p50 / p99 ' + latency(b.lag)]));
    } else {
      rows.push(row(['bus', 'none']));
    }
    if (sf) rows.push(row(['single-flight', 'leads ' + sf.leads, 'follows ' + sf.follows, 'from peer ' + sf.servedFromPeer, 'local fallbacks ' + sf.localFallbacks, 'errors ' + sf.errors]));
    replace($('bus'), rows);
  }

  function chart(series) {
    var svg = $('chart');
    var width = 600, height = 160;
    var nodes = [];
    [0, 0.5, 1].forEach(function (level) {
      var line = document.createElementNS(svgNs, 'line');
      var y = String(height - level * height);
      line.setAttribute('x1', '0'); line.setAttribute('x2', String(width));
      line.setAttribute('y1', y); line.setAttribute('y2', y);
      line.setAttribute('class', 'grid');
      nodes.push(line);
    });
    var step = series.length > 1 ? width / (series.length - 1) : width;
    var segment = [];
    function flush() {
      if (segment.length === 0) return;
      var line = document.createElementNS(svgNs, 'polyline');
      line.setAttribute('points', segment.join(' '));
      line.setAttribute('class', 'ratio');
      nodes.push(line);
      segment = [];
    }
    series.forEach(function (point, index) {
      if (typeof point.hitRatio !== 'number') { flush(); return; }
      segment.push((index * step).toFixed(1) + ',' + (height - point.hitRatio * height).toFixed(1));
    });
    flush();
    replace(svg, nodes);
    svg.setAttribute('data-points', String(series.length));
    var last = series.length > 0 ? series[series.length - 1] : undefined;
    $('series-note').textContent = series.length + ' points, one every ' + ms(interval) +
      (last ? '; last: ' + pct(last.hitRatio) + ' of ' + last.reads + ' reads, ' + last.loads + ' loads, ' + last.loadErrors + ' load errors, ' + last.layerErrors + ' layer errors' : '');
  }

  function refresh() {
    fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' }, cache: 'no-store' })
      .then(function (response) {
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.json();
      })
      .then(function (data) {
        $('name').textContent = data.name;
        cards(data); layers(data); bus(data); chart(data.series);
        $('status').textContent = 'updated ' + new Date(data.now).toISOString();
        $('status').className = 'ok';
      })
      .catch(function (error) {
        $('status').textContent = 'stats unavailable: ' + error.message;
        $('status').className = 'error';
      })
      .then(function () { setTimeout(refresh, interval); });
  }
  refresh();
})();
`;
