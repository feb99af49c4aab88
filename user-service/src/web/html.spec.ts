import { describe, expect, it } from 'vitest';
import { escapeHtml, html } from './html.js';

describe('html templates', () => {
  it.each([
    ['<script>alert(1)</script>', '&lt;script&gt;alert(1)&lt;/script&gt;'],
    ['" onfocus="alert(1)', '&quot; onfocus=&quot;alert(1)'],
    ["' autofocus onfocus='x", '&#39; autofocus onfocus=&#39;x'],
    ['a & b', 'a &amp; b'],
    ['`${x}`', '&#96;${x}&#96;'],
  ])('escapes %s', (input, expected) => {
    expect(escapeHtml(input)).toBe(expected);
    expect(html`<p title="${input}">${input}</p>`.toString()).toBe(`<p title="${expected}">${expected}</p>`);
  });

  it('keeps markup built by html and escapes text inside lists', () => {
    const items = ['<b>', 'ok'].map((s) => html`<li>${s}</li>`);
    const list = html`<ul>
      ${items}
    </ul>`;
    expect(list.toString().replace(/\s+/g, '')).toBe('<ul><li>&lt;b&gt;</li><li>ok</li></ul>');
  });

  it('renders nothing for absent values and false', () => {
    expect(html`[${undefined}${null}${false}${0}]`.toString()).toBe('[0]');
  });
});
