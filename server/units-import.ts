/**
 * `npm run units:import -- FILE.csv`: imports administrative units into lv_directory, e.g. the
 * official list of the General Statistics Office, saved as CSV UTF-8 with the columns
 * code,name,level,parent (see src/lib/core/units.ts). Nothing is written when the file has any
 * error; a re-import updates what changed and leaves the rest alone.
 *
 * Storage as the server's: COUCHDB_URL, or else the embedded store in DATA_DIR: the running
 * server's (through DATA_DIR/store.json), or one this command starts (server/store/open.ts).
 */
import { readFile } from 'node:fs/promises';
import { readConfig } from './config';
import { openStore, type StoreWhere } from './store/open';
import type { Store } from './store/couch';
import { importUnits, loadUnits } from './units';
import { parseUnitsCsv } from '../src/lib/core/units';

export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

const USAGE = `Usage: npm run units:import -- [--check] FILE.csv

Imports administrative units into the directory (lv_directory).
FILE.csv: UTF-8, header row code,name,level,parent (any order, case-insensitive);
  level = province | district | commune (also tỉnh | huyện | xã, quận, thị xã, phường, thị trấn);
  codes of the national list: province 2 digits, district 3, commune 5; parent empty for a province.
  Lines starting with # are comments.
--check  only check the file (parents must then be in the file), write nothing.
Storage: COUCHDB_URL if set, else the embedded store in DATA_DIR (default ./data).`;


/** Runs the import; resolves to the process exit code (0 done, 1 errors, 2 usage). */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, io: CliOutput = consoleOutput()): Promise<number> {
  const args = argv.filter((a) => a !== '--');
  if (args.includes('--help') || args.includes('-h')) {
    io.out(USAGE);
    return 0;
  }
  const checkOnly = args.includes('--check');
  const files = args.filter((a) => a !== '--check');
  const unknown = files.filter((a) => a.startsWith('-'));
  if (unknown.length || files.length !== 1) {
    io.err(unknown.length ? `Unknown option ${unknown[0]}\n\n${USAGE}` : USAGE);
    return 2;
  }
  const file = files[0]!;

  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    io.err(`Cannot read ${file}: ${(err as Error).message}`);
    return 1;
  }

  if (checkOnly) {
    const { units, errors } = parseUnitsCsv(text);
    if (printErrors(io, file, errors)) return 1;
    io.out(`${file}: ${units.length} units, no errors (${describe(units)}).`);
    return 0;
  }

  let config;
  try {
    config = readConfig(env);
  } catch (err) {
    io.err((err as Error).message);
    return 1;
  }
  let opened: { store: Store; where: StoreWhere; close(): Promise<void> };
  try {
    opened = await openStore(config);
  } catch (err) {
    io.err(config.couchdbUrl ? `CouchDB at COUCHDB_URL did not answer as expected: ${errorText(err)}` : errorText(err));
    return 1;
  }
  try {
    const { store, where } = opened;
    const existing = await loadUnits(store);
    const { units, errors } = parseUnitsCsv(text, existing);
    if (printErrors(io, file, errors)) return 1;
    const counts = await importUnits(store, units);
    const place =
      where === 'couchdb' ? 'CouchDB at COUCHDB_URL' : where === 'server' ? `the running server's embedded store in ${config.dataDir}` : `the embedded store in ${config.dataDir}`;
    io.out(`Imported ${units.length} units (${describe(units)}) from ${file} into ${place}:`);
    io.out(`  created ${counts.created}, updated ${counts.updated}, unchanged ${counts.unchanged}.`);
    return 0;
  } catch (err) {
    io.err(`Import failed: ${errorText(err)}`);
    return 1;
  } finally {
    await opened.close();
  }
}

function consoleOutput(): CliOutput {
  return { out: (line) => console.log(line), err: (line) => console.error(line) };
}

function printErrors(io: CliOutput, file: string, errors: readonly { line: number; message: string }[]): boolean {
  if (!errors.length) return false;
  for (const e of errors.slice(0, 200)) io.err(`${file}:${e.line}: ${e.message}`);
  if (errors.length > 200) io.err(`… and ${errors.length - 200} more`);
  io.err(`${errors.length} error${errors.length > 1 ? 's' : ''}: nothing was imported.`);
  return true;
}

function describe(units: readonly { level: string }[]): string {
  const n = (level: string) => units.filter((u) => u.level === level).length;
  return `${n('province')} provinces, ${n('district')} districts, ${n('commune')} communes`;
}

/** nano's errors carry the store's reason; never print a URL, which may hold credentials. */
function errorText(err: unknown): string {
  const e = err as { reason?: string; message?: string; statusCode?: number };
  const text = e.reason || e.message || String(err);
  return text.replace(/\/\/[^@/\s]*@/g, '//');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`Import failed: ${err.message}`);
      process.exit(1);
    }
  );
}
