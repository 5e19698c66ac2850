import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { emailHtml, emailSubject, emailText, escapeHtml, safeHttpUrl, SUBJECT_MAX } from '../../../../../collector/alerts/channels/email-format.js';
import { HOSTILE, hostileAlert, sampleAlert } from '../../../../helpers/receivers/alert-fixtures.js';

describe('escapeHtml', () => {
  it('escapes the five HTML-significant characters', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });
});

describe('safeHttpUrl', () => {
  it('accepts http(s) URLs only', () => {
    expect(safeHttpUrl('https://c.example/a?b=1')).toBe('https://c.example/a?b=1');
    expect(safeHttpUrl('javascript:alert(1)')).toBeNull();
    expect(safeHttpUrl('data:text/html,<script>')).toBeNull();
    expect(safeHttpUrl('not a url')).toBeNull();
    expect(safeHttpUrl(undefined)).toBeNull();
  });
});

describe('emailSubject', () => {
  it('names severity, state, title and seat', () => {
    expect(emailSubject(sampleAlert(), '[seatguard]')).toBe('[seatguard] HIGH open: USB mass storage blocked (SEAT-A-012)');
  });

  it('never contains CR or LF and stays within the cap, whatever the title', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 1000 }), (title) => {
        const s = emailSubject(sampleAlert({ title }), '[seatguard]');
        expect(s).not.toMatch(/[\r\n]/);
        expect(Array.from(s).length).toBeLessThanOrEqual(SUBJECT_MAX);
      }),
    );
  });
});

describe('emailHtml', () => {
  it('escapes every hostile value so no tag or attribute survives', () => {
    const html = emailHtml(hostileAlert());
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    // Only the template's own tags remain.
    const tags = new Set([...html.matchAll(/<\/?([a-z0-9!]+)/gi)].map((m) => (m[1] as string).toLowerCase()));
    expect([...tags].sort()).toEqual(['!doctype', 'a', 'body', 'h2', 'head', 'html', 'meta', 'p', 'pre', 'table', 'td', 'th', 'tr']);
  });

  it('links only http(s) console URLs', () => {
    expect(emailHtml(sampleAlert({ url: 'javascript:alert(1)' }))).not.toContain('<a ');
    expect(emailHtml(sampleAlert({ url: 'https://c.example/a?x="><script>' }))).toContain('href="https://c.example/a?x=%22%3E%3Cscript%3E"');
  });
});

describe('emailText', () => {
  it('keeps single-line fields on one line so a value cannot forge a label line', () => {
    const text = emailText(hostileAlert());
    expect(text.split('\n').filter((l) => l.startsWith('FAKE:'))).toHaveLength(1); // only from the multi-line detail
    expect(text).toContain(`Device: 0781:5567 serial line1 FAKE: injected`);
  });

  it('caps a 10 KB+ detail', () => {
    expect(emailText(sampleAlert({ detail: HOSTILE.big.repeat(2) })).length).toBeLessThan(11_000);
  });
});
