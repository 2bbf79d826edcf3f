// `loki --token T …` puts the token where every local user can read it, in
// /proc/<pid>/cmdline (`ps`), for as long as the command runs (`sessions logs
// --follow`: hours). Like curl -u and mysql -p, the CLI overwrites its own command
// line first thing: on Linux, setting process.title rewrites the whole argv area,
// so what remains is the moment before this runs. --token-file, $LOKI_TOKEN and
// `loki login` never show the token at all.

const SECRET_FLAGS = ['--token'];

/** argv with every secret flag's value replaced by `***`; undefined when there is none. */
export function maskedArgv(argv: readonly string[]): string[] | undefined {
  let masked = false;
  const out = argv.map((a, i) => {
    const prev = argv[i - 1];
    if (prev !== undefined && SECRET_FLAGS.includes(prev)) {
      masked = true;
      return '***';
    }
    const eq = a.indexOf('=');
    if (eq > 0 && SECRET_FLAGS.includes(a.slice(0, eq))) {
      masked = true;
      return `${a.slice(0, eq)}=***`;
    }
    return a;
  });
  return masked ? out : undefined;
}

/** Overwrites this process's command line when it holds a secret flag's value. */
export function hideSecretArgs(argv: readonly string[] = process.argv): void {
  const m = maskedArgv(argv);
  if (m) process.title = m.join(' ');
}
