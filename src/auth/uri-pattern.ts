/**
 * Ghostunnel's URI wildcard patterns (spec §2.5): segments split on "/"; a segment that is exactly
 * "*" matches one non-empty segment; a final "**" matches zero or more further segments; every
 * other character is literal; one trailing "/" is optional on both pattern and input.
 */
export interface UriPattern {
  readonly source: string;
  matches(uri: string): boolean;
}

function trimSlash(s: string): string {
  return s.endsWith('/') ? s.slice(0, -1) : s;
}

export function compileUriPattern(pattern: string): UriPattern {
  if (pattern === '') throw new Error('input pattern was empty string');
  const segments = trimSlash(pattern).split('/');
  segments.forEach((seg, i) => {
    if (seg === '**') {
      if (i !== segments.length - 1) throw new Error("wildcard '**' can only appear at end of pattern");
    } else if (seg !== '*' && seg.includes('*')) {
      throw new Error(seg.includes('**') ? "wildcard '**' can only appear at end of pattern" : "wildcard '*' can only appear between two separators");
    }
  });
  const tail = segments[segments.length - 1] === '**';
  const fixed = tail ? segments.slice(0, -1) : segments;
  return {
    source: pattern,
    matches(uri: string): boolean {
      const parts = trimSlash(uri).split('/');
      if (tail ? parts.length < fixed.length : parts.length !== fixed.length) return false;
      for (let i = 0; i < fixed.length; i++) {
        const want = fixed[i]!;
        const got = parts[i]!;
        if (want === '*' ? got === '' : want !== got) return false;
      }
      return true;
    },
  };
}
