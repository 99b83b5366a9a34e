/**
 * Normal forms of the request headers a route declares in `vary`, so that spellings meaning the same keep one
 * entry; two values get one normal form only when every conforming parser reads them alike:
 * - `Accept`, `Accept-Charset`, `Accept-Encoding`, `Accept-Language`: elements lower-cased (media types, codings,
 *   charsets and language tags are case-insensitive), whitespace dropped, `q` written canonically (`q=1` and a
 *   missing `q` alike, `0.80` as `0.8`), then a stable sort by `q`, highest first: the order between elements of
 *   equal `q` is kept, as naive parsers take the first one. Other parameters keep their values' case.
 * - `X-Forwarded-Host`, `X-Forwarded-Proto`: lower-cased, whitespace around commas dropped; the order is kept
 *   (Express trusts the first element, Fastify the last).
 * - `X-Forwarded-For`: whitespace around commas dropped, order kept (addresses are compared as written).
 * - `Forwarded` (RFC 7239): parameter names lower-cased, values unquoted, `host` and `proto` values lower-cased,
 *   the pairs of one element sorted by name (their order carries no meaning), the elements' order kept.
 * - Any other header: as received (Node already trims it); repeated headers joined with `, `.
 * A header the handler reads itself (`@Headers(name)`) is keyed as received instead: it sees the exact text.
 *
 * The hard part is quoted strings: commas and semicolons inside quotes are not separators.
 */

/** A normaliser of one header's value. */
export type HeaderNormalizer = (value: string) => string;

/** The normaliser of a lower-case header name, or `undefined` to key the value as received. */
export function normalizerOf(name: string): HeaderNormalizer | undefined {
  switch (name) {
    case 'accept':
    case 'accept-charset':
    case 'accept-encoding':
    case 'accept-language':
      return normalizeAcceptList;
    case 'x-forwarded-host':
    case 'x-forwarded-proto':
      return (value) => splitOutsideQuotes(value, ',').map((part) => part.trim().toLowerCase()).join(',');
    case 'x-forwarded-for':
      return (value) => splitOutsideQuotes(value, ',').map((part) => part.trim()).join(',');
    case 'forwarded':
      return normalizeForwarded;
    default:
      return undefined;
  }
}

/** Splits on `separator` outside double-quoted strings (a backslash escapes the next character inside quotes). */
export function splitOutsideQuotes(value: string, separator: ',' | ';'): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (quoted && char === '\\') i++;
    else if (char === '"') quoted = !quoted;
    else if (!quoted && char === separator) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}

/** `name=value` with whitespace around `=` dropped and the name lower-cased (values may be case-sensitive). */
function normalizeParameter(parameter: string): [string, string] {
  const equals = parameter.indexOf('=');
  if (equals < 0) return [parameter.trim().toLowerCase(), ''];
  return [parameter.slice(0, equals).trim().toLowerCase(), parameter.slice(equals + 1).trim()];
}

/** The canonical text of a `q` value, or `undefined` when it is not a valid qvalue (RFC 9110 §12.4.2). */
function canonicalQ(text: string): number | undefined {
  if (!/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(text)) return undefined;
  return Number(text);
}

function normalizeAcceptList(value: string): string {
  const elements: { text: string; q: number; index: number }[] = [];
  const parts = splitOutsideQuotes(value, ',');
  for (let index = 0; index < parts.length; index++) {
    const [head, ...rest] = splitOutsideQuotes(parts[index] as string, ';');
    const range = (head ?? '').trim().toLowerCase();
    if (range === '' && rest.length === 0) continue; // empty list elements are allowed and mean nothing
    let q = 1;
    const parameters: string[] = [];
    for (const raw of rest) {
      const [name, text] = normalizeParameter(raw);
      const parsed = name === 'q' ? canonicalQ(text) : undefined;
      if (parsed !== undefined) q = parsed;
      else parameters.push(text === '' ? name : `${name}=${text}`);
    }
    const qText = q === 1 ? '' : `;q=${q}`;
    elements.push({ text: [range, ...parameters].join(';') + qText, q, index });
  }
  elements.sort((a, b) => b.q - a.q || a.index - b.index);
  return elements.map((element) => element.text).join(',');
}

function normalizeForwarded(value: string): string {
  return splitOutsideQuotes(value, ',')
    .map((element) =>
      splitOutsideQuotes(element, ';')
        .filter((pair) => pair.trim() !== '')
        .map((pair) => {
          const [name, raw] = normalizeParameter(pair);
          const unquoted = raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2 ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
          return `${name}=${name === 'host' || name === 'proto' ? unquoted.toLowerCase() : unquoted}`;
        })
        .sort()
        .join(';'),
    )
    .join(',');
}
