// Amounts of money as Indonesian planners type them: 2.000.000.000, 2 miliar, 2M, 500 jt, 2e9.
// The same rules as layers/targeting/amounts.py (the command line's --budget); a test feeds both
// the same strings (tests/clients/test_planner_browser.py).
//
// - digits grouped by dots in threes are thousands (2.000.000.000), and so are commas in threes
//   (2,000,000,000); a lone comma or a dot followed by other than three digits is the decimal mark;
// - a unit may follow: rb/ribu/k (thousand), jt/juta/mn/million, M/miliar/milyar/bn/billion,
//   T/triliun/trillion; a leading "Rp" is ignored; a lone lower-case "m" is refused (ambiguous).

const UNITS = {
  rb: 1e3, ribu: 1e3, k: 1e3, jt: 1e6, juta: 1e6, mn: 1e6, million: 1e6,
  miliar: 1e9, milyar: 1e9, bn: 1e9, billion: 1e9, triliun: 1e12, trillion: 1e12,
};
const CAPITALS = { M: 1e9, T: 1e12 };
const AMOUNT = /^\s*(?:rp\.?\s*)?([0-9][0-9.,]*(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$/i;
const GROUPED_DOTS = /^[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?$/;
const GROUPED_COMMAS = /^[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?$/;

function number(text) {
  if (GROUPED_DOTS.test(text)) return Number(text.replaceAll('.', '').replace(',', '.'));
  if (GROUPED_COMMAS.test(text)) return Number(text.replaceAll(',', ''));
  if ((text.match(/,/g) ?? []).length === 1 && !text.includes('.')) return Number(text.replace(',', '.'));
  return /^[0-9]*\.?[0-9]*(e[+-]?[0-9]+)?$/i.test(text) ? Number(text) : NaN;
}

/**
 * The amount typed, or an object saying why it cannot be read: {value} or {error: 'ambiguous' | 'unreadable'}.
 * An empty field is {value: null}.
 */
export function parseAmount(text) {
  if (text == null || String(text).trim() === '') return { value: null };
  const match = AMOUNT.exec(String(text));
  if (!match) return { error: 'unreadable' };
  const unit = match[2];
  if (unit === 'm') return { error: 'ambiguous' };
  const factor = unit ? (CAPITALS[unit] ?? UNITS[unit.toLowerCase()]) : 1;
  if (factor == null) return { error: 'unreadable' };
  const value = number(match[1]) * factor;
  return Number.isFinite(value) && value >= 0 ? { value } : { error: 'unreadable' };
}

const SCALES = {
  id: [[1e12, 'triliun'], [1e9, 'miliar'], [1e6, 'juta'], [1e3, 'ribu']],
  en: [[1e12, 'trillion'], [1e9, 'billion'], [1e6, 'million'], [1e3, 'thousand']],
};

/** "Rp 2.500.000.000 (2,5 miliar)": an amount in full and in words, to echo what was typed. */
export function sayAmount(value, lang) {
  const locale = lang === 'id' ? 'id-ID' : 'en-US';
  const whole = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(value);
  for (const [scale, name] of SCALES[lang] ?? SCALES.en) {
    if (Math.abs(value) >= scale) {
      const short = new Intl.NumberFormat(locale, { maximumFractionDigits: 3 }).format(value / scale);
      return `Rp ${whole} (${short} ${name})`;
    }
  }
  return `Rp ${whole}`;
}
