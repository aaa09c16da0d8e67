import type { CampaignTimeline, ConsoleContext } from './context.ts';

/**
 * The chart of a campaign's page: attempts ended per minute, by outcome, drawn as SVG from its
 * timeline. (One function for the whole module: see ./context.ts.)
 */
export function consoleCampaignChart(c: ConsoleContext): void {
  const SVG = 'http://www.w3.org/2000/svg';
  function svgEl(name: string, attrs: Record<string, string | number>, text?: string) {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  /**
   * Stacked bars, one per minute, one colour per outcome; an SVG image whose title and description
   * say what it shows in words, and a legend with each outcome's total beside it.
   */
  c.drawCampaignChart = (t: CampaignTimeline) => {
    const W = 600;
    const H = 180;
    const left = 36;
    const bottom = 20;
    const top = 8;
    const plotH = H - bottom - top;
    const totals = t.buckets.map((b) => t.outcomes.reduce((n, o) => n + (b.counts[o] ?? 0), 0));
    const peak = Math.max(1, ...totals);
    const step = (W - left) / Math.max(t.buckets.length, 1);
    const sums = Object.fromEntries(
      t.outcomes.map((o) => [o, t.buckets.reduce((n, b) => n + (b.counts[o] ?? 0), 0)]),
    );
    const svg = svgEl('svg', {
      viewBox: `0 0 ${W} ${H}`,
      role: 'img',
      'aria-labelledby': 'campaign-chart-svg-title campaign-chart-svg-desc',
    });
    const time = (iso: string) =>
      new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const first = t.buckets[0]?.start ?? t.from;
    const last = t.buckets.at(-1)?.start ?? t.from;
    const busiest = totals.indexOf(Math.max(...totals));
    const said = t.outcomes
      .filter((o) => sums[o])
      .map((o) => `${sums[o]} ${o.replace('_', ' ')}`)
      .join(', ');
    svg.append(
      svgEl('title', { id: 'campaign-chart-svg-title' }, 'Attempts ended per minute, by outcome'),
      svgEl(
        'desc',
        { id: 'campaign-chart-svg-desc' },
        said
          ? `From ${time(first)} to ${time(last)}: ${said}. The busiest minute, ${time(t.buckets[busiest]!.start)}, had ${totals[busiest]}.`
          : `No attempt ended from ${time(first)} to ${time(last)}.`,
      ),
    );
    for (const frac of [0, 0.5, 1]) {
      const y = top + plotH * (1 - frac);
      svg.append(svgEl('line', { x1: left, x2: W, y1: y, y2: y, class: 'chart-grid' }));
      svg.append(
        svgEl(
          'text',
          { x: left - 4, y: y + 4, 'text-anchor': 'end', class: 'chart-axis' },
          String(Math.round(peak * frac)),
        ),
      );
    }
    t.buckets.forEach((b, i) => {
      let y = top + plotH;
      for (const o of t.outcomes) {
        const n = b.counts[o] ?? 0;
        if (!n) continue;
        const h = (n / peak) * plotH;
        y -= h;
        const rect = svgEl('rect', {
          x: left + i * step + 0.5,
          y,
          width: Math.max(step - 1, 1),
          height: h,
          class: `o-${o}`,
        });
        rect.append(svgEl('title', {}, `${time(b.start)}: ${n} ${o.replace('_', ' ')}`));
        svg.append(rect);
      }
    });
    svg.append(svgEl('text', { x: left, y: H - 4, class: 'chart-axis' }, time(first)));
    svg.append(svgEl('text', { x: W, y: H - 4, 'text-anchor': 'end', class: 'chart-axis' }, time(last)));
    c.$('campaign-chart').replaceChildren(svg);
    const legend = c.$('campaign-legend');
    legend.replaceChildren();
    for (const o of t.outcomes) {
      const li = document.createElement('li');
      li.dataset.outcome = o;
      const swatch = document.createElement('span');
      swatch.className = `swatch o-${o}`;
      swatch.setAttribute('aria-hidden', 'true');
      li.append(swatch, `${o.replace('_', ' ')}: ${sums[o] ?? 0}`);
      legend.append(li);
    }
  };
}
