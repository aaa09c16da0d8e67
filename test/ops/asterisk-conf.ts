/**
 * A reader for Asterisk's configuration format, enough to check Outdial's files: sections
 * (`[name]`, templates `[name](!)` and `[name](template)`), `key = value` and `key => value`
 * entries, `;` comments (`\;` is a literal semicolon), `#include` lines, and the dialplan's
 * `exten =>` / `same =>` lines with their extension, priority, application and arguments.
 */

export interface Entry {
  key: string;
  value: string;
  line: number;
}

export interface Section {
  name: string;
  /** `(!)`: a template, not an object of its own. */
  template: boolean;
  /** Templates this section inherits from. */
  inherits: string[];
  entries: Entry[];
}

export interface ConfFile {
  sections: Section[];
  includes: string[];
}

export class ConfError extends Error {
  override name = 'ConfError';
}

function stripComment(line: string): string {
  let out = '';
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i]!;
    if (c === '\\' && line[i + 1] === ';') {
      out += ';';
      i += 1;
      continue;
    }
    if (c === ';') break;
    out += c;
  }
  return out.trim();
}

export function parseConf(text: string): ConfFile {
  const sections: Section[] = [];
  const includes: string[] = [];
  let current: Section | null = null;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const content = stripComment(raw);
    if (!content) return;
    if (content.startsWith('#')) {
      const m = /^#(try)?include\s+"?([^"]+)"?$/.exec(content);
      if (!m) throw new ConfError(`line ${line}: unknown directive ${content}`);
      includes.push(m[2]!);
      return;
    }
    const header = /^\[([^\]]+)\](?:\(([^)]*)\))?$/.exec(content);
    if (header) {
      const options = (header[2] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      current = {
        name: header[1]!,
        template: options.includes('!'),
        inherits: options.filter((o) => o !== '!' && o !== '+'),
        entries: [],
      };
      sections.push(current);
      return;
    }
    const entry = /^([^=]+?)\s*=>?\s*(.*)$/.exec(content);
    if (!entry) throw new ConfError(`line ${line}: not an entry: ${content}`);
    if (!current) throw new ConfError(`line ${line}: entry before any section`);
    current.entries.push({ key: entry[1]!.trim(), value: entry[2]!.trim(), line });
  });
  return { sections, includes };
}

/** The sections with this name (PJSIP objects of different types may share one). */
export function sectionsNamed(file: ConfFile, name: string): Section[] {
  return file.sections.filter((s) => s.name === name);
}

/** The value of `key` in a section, taking inherited templates into account; the last one wins. */
export function settingOf(file: ConfFile, section: Section, key: string): string | undefined {
  const own = section.entries.filter((e) => e.key === key).at(-1)?.value;
  if (own !== undefined) return own;
  for (const parent of [...section.inherits].reverse()) {
    for (const p of sectionsNamed(file, parent)) {
      const v = settingOf(file, p, key);
      if (v !== undefined) return v;
    }
  }
  return undefined;
}

export function valuesOf(section: Section, key: string): string[] {
  return section.entries.filter((e) => e.key === key).map((e) => e.value);
}

export interface Step {
  context: string;
  extension: string;
  priority: number;
  app: string;
  args: string;
  line: number;
}

/** The dialplan steps of extensions.conf, `n` and `same` resolved to numbers. */
export function dialplan(file: ConfFile): Step[] {
  const steps: Step[] = [];
  for (const section of file.sections) {
    if (section.name === 'general' || section.name === 'globals') continue;
    let last: { extension: string; priority: number } | null = null;
    for (const entry of section.entries) {
      if (entry.key === 'include' || entry.key === 'switch' || entry.key === 'ignorepat') continue;
      let extension: string;
      let priorityText: string;
      let rest: string;
      if (entry.key === 'exten') {
        const m = /^([^,]+),([^,]+),(.*)$/.exec(entry.value);
        if (!m) throw new ConfError(`line ${entry.line}: exten needs extension,priority,application`);
        [extension, priorityText, rest] = [m[1]!.trim(), m[2]!.trim(), m[3]!.trim()];
      } else if (entry.key === 'same') {
        if (!last) throw new ConfError(`line ${entry.line}: "same" before any exten`);
        const m = /^([^,]+),(.*)$/.exec(entry.value);
        if (!m) throw new ConfError(`line ${entry.line}: same needs priority,application`);
        extension = last.extension;
        [priorityText, rest] = [m[1]!.trim(), m[2]!.trim()];
      } else {
        throw new ConfError(`line ${entry.line}: unknown dialplan line "${entry.key}"`);
      }
      // A label may follow the priority: n(label).
      const label = /^(\w+)(?:\([\w-]+\))?$/.exec(priorityText);
      if (!label) throw new ConfError(`line ${entry.line}: bad priority ${priorityText}`);
      let priority: number;
      if (label[1] === 'n') {
        if (!last || last.extension !== extension)
          throw new ConfError(`line ${entry.line}: "n" without a previous priority`);
        priority = last.priority + 1;
      } else if (/^\d+$/.test(label[1]!)) {
        priority = Number(label[1]);
      } else {
        throw new ConfError(`line ${entry.line}: bad priority ${priorityText}`);
      }
      const app = /^([A-Za-z][A-Za-z0-9_]*)(?:\((.*)\))?$/.exec(rest);
      if (!app) throw new ConfError(`line ${entry.line}: bad application call ${rest}`);
      const args = app[2] ?? '';
      if (!balanced(args)) throw new ConfError(`line ${entry.line}: unbalanced brackets in ${rest}`);
      steps.push({ context: section.name, extension, priority, app: app[1]!, args, line: entry.line });
      last = { extension, priority };
    }
  }
  return steps;
}

function balanced(text: string): boolean {
  const stack: string[] = [];
  const pairs: Record<string, string> = { ')': '(', '}': '{', ']': '[' };
  for (const c of text) {
    if (c === '(' || c === '{' || c === '[') stack.push(c);
    else if (c in pairs && stack.pop() !== pairs[c]) return false;
  }
  return stack.length === 0;
}

/** Whether a dialplan extension pattern (or literal) matches a dialled string. */
export function extensionMatches(pattern: string, dialled: string): boolean {
  if (!pattern.startsWith('_')) return pattern === dialled;
  let re = '^';
  const body = pattern.slice(1);
  for (let i = 0; i < body.length; i += 1) {
    const c = body[i]!;
    if (c === 'X') re += '[0-9]';
    else if (c === 'Z') re += '[1-9]';
    else if (c === 'N') re += '[2-9]';
    else if (c === '.') re += '.+';
    else if (c === '!') re += '.*';
    else if (c === '[') {
      const end = body.indexOf(']', i);
      re += `[${body.slice(i + 1, end).replace(/[\\^]/g, '\\$&')}]`;
      i = end;
    } else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`${re}$`).test(dialled);
}
