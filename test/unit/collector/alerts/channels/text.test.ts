import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { capChars, fitText, multiLine, oneLine, printUsAscii, truncateUtf8, utf8Bytes } from '../../../../../collector/alerts/channels/text.js';

describe('oneLine', () => {
  it('turns CR, LF, tabs and Unicode line separators into spaces', () => {
    expect(oneLine('a\r\nb\nc\rd\te\u2028f\u0085g')).toBe('a b c d e f g');
  });

  it('replaces other controls, bidi overrides and zero-width characters with U+FFFD', () => {
    expect(oneLine('x\u0000y\u202ez\u200bw\u007f')).toBe('x\uFFFDy\uFFFDz\uFFFDw\uFFFD');
  });

  it('never leaves a control or line-break character, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        // eslint-disable-next-line no-control-regex
        expect(oneLine(s)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
      }),
    );
  });
});

describe('multiLine', () => {
  it('keeps line breaks as LF and removes other controls', () => {
    expect(multiLine('a\r\nb\rc\u2028d\u0000\te')).toBe('a\nb\nc\nd\uFFFD e');
  });
});

describe('capChars', () => {
  it('keeps short strings unchanged and ends cut strings with an ellipsis at the cap', () => {
    expect(capChars('abc', 3)).toBe('abc');
    expect(capChars('abcdef', 4)).toBe('abc…');
    expect(Array.from(capChars('😀'.repeat(10), 5))).toHaveLength(5);
  });
});

describe('printUsAscii', () => {
  it('keeps only printable ASCII and falls back to NILVALUE when nothing is left', () => {
    expect(printUsAscii('usb blocked\n', 32)).toBe('usbblocked');
    expect(printUsAscii('éé', 32)).toBe('-');
  });
});

describe('truncateUtf8', () => {
  it('never cuts a multi-byte character in half', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.nat(200), (s, max) => {
        const buf = Buffer.from(s, 'utf8');
        const cut = truncateUtf8(buf, max);
        expect(cut.length).toBeLessThanOrEqual(max);
        expect(Buffer.from(cut.toString('utf8'), 'utf8').equals(cut)).toBe(true);
        expect(s.startsWith(cut.toString('utf8'))).toBe(true);
      }),
    );
  });
});

describe('fitText', () => {
  const build = (t: string) => `<${t.replace(/\\/g, '\\\\')}>`;

  it('returns the whole message when it fits', () => {
    expect(fitText('hello', 100, build)).toBe('<hello>');
  });

  it('cuts the text (marked with an ellipsis) so the built message fits the byte budget', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.integer({ min: 8, max: 300 }), (s, max) => {
        const out = fitText(s, max, build);
        expect(out).not.toBeNull();
        expect(utf8Bytes(out as string)).toBeLessThanOrEqual(max);
      }),
    );
  });

  it('never splits an escape sequence made inside build', () => {
    const out = fitText('\\'.repeat(50), 12, build) as string;
    // Inside <> every backslash comes in a pair.
    const inner = out.slice(1, -1).replace(/…$/, '');
    expect(inner.length % 2).toBe(0);
  });

  it('returns null when even an empty text does not fit', () => {
    expect(fitText('abc', 1, build)).toBeNull();
  });
});
