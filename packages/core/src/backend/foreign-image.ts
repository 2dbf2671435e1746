import { readdir, readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Language } from '../request.js';
import type { RunnerKind } from './runtime-image.js';

/**
 * Images that are not cordon's (any image with `node` and/or `python3`, none of
 * cordon's files). The docker and k8s backends probe such an image once for its
 * tools, then start each sandbox with the image's own interpreter running a short
 * bootstrap: it reads cordon's runner from the attached stdin (no bind mount, so a
 * remote daemon or a cluster works the same), writes it to a root-owned tmpfs at
 * RUNNER_DIR (made 0755 first: a pod's emptyDir starts world-writable) and runs the supervisor, which then speaks runner protocol 3 on the
 * same stream. The hardening is the runtime image's: root supervisor with three
 * capabilities, program under a non-root uid, read-only root, tmpfs workdir.
 */
export const RUNNER_DIR = '/opt/cordon/runner';

/** Absolute paths of what the image holds; a tool it lacks is absent. */
export interface ImageTools {
  node?: string | undefined;
  python?: string | undefined;
  bash?: string | undefined;
  prlimit?: string | undefined;
  /** A POSIX shell (the k8s pod's first process needs one). */
  sh?: string | undefined;
  /**
   * Set when the image already holds cordon's runner (/opt/cordon/runner): the
   * protocol it speaks. Where image labels are not visible (a cluster's nodes) this
   * tells cordon's own image from a user's.
   */
  runnerProtocol?: string | undefined;
  /** The image's own NODE_PATH (its global modules), handed to node programs. */
  nodePath?: string | undefined;
}

const absolutePath = z
  .string()
  .max(4096)
  .regex(/^\/[^\0\n]*$/);
const toolsSchema = z.strictObject({
  node: absolutePath.optional(),
  python: absolutePath.optional(),
  bash: absolutePath.optional(),
  prlimit: absolutePath.optional(),
  sh: absolutePath.optional(),
  runnerProtocol: z
    .string()
    .regex(/^\d{1,4}$/)
    .optional(),
  nodePath: z
    .string()
    .max(16 * 1024)
    .regex(/^[^\0\n]*$/)
    .optional(),
});

/** The line the probe prints before its JSON, so stray output of an entrypoint cannot be taken for it. */
export const TOOLS_PROBE_MARKER = 'cordon-image-tools:';

const SEARCH_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * Finds the tools through the image's node (`node -e`); prints the marker and JSON.
 * Paths are the ones found on PATH, not their links' targets: busybox's applets are
 * links to one binary that picks its applet by the name it is called by.
 */
const NODE_PROBE = `const fs=require('fs'),p=require('path');const dirs=[...(process.env.PATH||'').split(':'),...${JSON.stringify(SEARCH_DIRS)}].filter((d)=>d.startsWith('/'));const find=(n)=>{for(const d of dirs){const f=p.join(d,n);try{fs.accessSync(f,fs.constants.X_OK);if(fs.statSync(f).isFile())return f}catch{}}};const out={node:process.execPath,python:find('python3'),bash:find('bash'),prlimit:find('prlimit'),sh:find('sh')};try{const m=/^const PROTOCOL = (\\d+);/m.exec(fs.readFileSync('${RUNNER_DIR}/supervisor.cjs','utf8'));if(m)out.runnerProtocol=m[1]}catch{}if(process.env.NODE_PATH)out.nodePath=process.env.NODE_PATH;process.stdout.write('${TOOLS_PROBE_MARKER}'+JSON.stringify(out)+'\\n')`;

/** The same through python3 (`python3 -c`), for images without node. */
const PYTHON_PROBE = [
  'import json,os,re,shutil,sys',
  `dirs=[d for d in os.environ.get('PATH','').split(':')+${JSON.stringify(SEARCH_DIRS)} if d.startswith('/')]`,
  'def find(n):',
  '  return shutil.which(n,path=":".join(dirs))',
  'out={k:v for k,v in {"python":os.path.realpath(sys.executable),"bash":find("bash"),"prlimit":find("prlimit"),"sh":find("sh")}.items() if v}',
  'try:',
  `  m=re.search(r'^const PROTOCOL = (\\d+);',open('${RUNNER_DIR}/supervisor.cjs').read(),re.M)`,
  '  if m: out["runnerProtocol"]=m.group(1)',
  'except OSError: pass',
  `sys.stdout.write('${TOOLS_PROBE_MARKER}'+json.dumps(out)+'\\n')`,
].join('\n');

/** The probe's command for `interpreter` (tried node first, then python3), run from the image's PATH. */
export function toolsProbeCommand(interpreter: 'node' | 'python3'): string[] {
  return interpreter === 'node' ? ['node', '-e', NODE_PROBE] : ['python3', '-c', PYTHON_PROBE];
}

/** The probe's output, strictly checked; `undefined` when it printed no valid report. */
export function parseToolsProbe(output: string): ImageTools | undefined {
  const line = output.split('\n').find((candidate) => candidate.startsWith(TOOLS_PROBE_MARKER));
  if (!line) return undefined;
  try {
    const parsed = toolsSchema.safeParse(JSON.parse(line.slice(TOOLS_PROBE_MARKER.length)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The languages an image with these tools can run under cordon's supervisor. */
export function languagesOfTools(tools: ImageTools): Language[] {
  const languages: Language[] = [];
  if (tools.node) languages.push('node');
  if (tools.python) languages.push('python');
  // Bash runs under either supervisor.
  if (tools.bash && (tools.node || tools.python)) languages.push('bash');
  return languages;
}

/** Which booted child serves `language` in such an image: bash rides on node when there is one, else python. */
export function foreignKindFor(language: Language, tools: ImageTools): RunnerKind {
  if (language === 'python') return 'python';
  if (language === 'node') return 'node';
  return tools.node ? 'node' : 'python';
}

export interface ForeignSupervisorOptions {
  tools: ImageTools;
  kind: RunnerKind;
  programUid: number;
  nproc?: number | undefined;
}

/** Where the bootstrap writes the runner's files: a name it accepts, nothing else. */
const RUNNER_FILE_NAME = /^[a-z][a-z0-9-]*\.(cjs|py)$/;
/** The bundle frame's largest size the bootstrap accepts. */
const MAX_BUNDLE_BYTES = 4 * 1024 * 1024;

const NODE_BOOTSTRAP = `'use strict';const fs=require('fs');const sleep=new Int32Array(new SharedArrayBuffer(4));const read=(n)=>{const b=Buffer.alloc(n);let o=0;while(o<n){let r;try{r=fs.readSync(0,b,o,n-o,null)}catch(e){if(e.code==='EAGAIN'){Atomics.wait(sleep,0,0,2);continue}throw e}if(r===0)process.exit(125);o+=r}return b};const n=read(4).readUInt32BE(0);if(n>${MAX_BUNDLE_BYTES})process.exit(125);const files=JSON.parse(read(n).toString('utf8'));fs.chmodSync('${RUNNER_DIR}',0o755);for(const [name,source] of Object.entries(files)){if(!${RUNNER_FILE_NAME.toString()}.test(name))process.exit(125);fs.writeFileSync('${RUNNER_DIR}/'+name,source,{mode:0o644})}process.argv=[process.argv[0],'${RUNNER_DIR}/supervisor.cjs',...process.argv.slice(1)];require('${RUNNER_DIR}/supervisor.cjs')`;

const PYTHON_BOOTSTRAP = [
  'import json,os,re,sys',
  'def read(n):',
  "  b=b''",
  '  while len(b)<n:',
  '    c=os.read(0,n-len(b))',
  '    if not c: os._exit(125)',
  '    b+=c',
  '  return b',
  "n=int.from_bytes(read(4),'big')",
  `if n>${MAX_BUNDLE_BYTES}: os._exit(125)`,
  `os.chmod('${RUNNER_DIR}',0o755)`,
  "for name,source in json.loads(read(n).decode('utf-8')).items():",
  `  if not re.fullmatch(r'${RUNNER_FILE_NAME.source.slice(1, -1)}',name): os._exit(125)`,
  `  fd=os.open('${RUNNER_DIR}/'+name,os.O_WRONLY|os.O_CREAT|os.O_TRUNC|os.O_NOFOLLOW,0o644)`,
  "  os.write(fd,source.encode('utf-8'))",
  '  os.close(fd)',
  `sys.path.insert(0,'${RUNNER_DIR}')`,
  `sys.argv=['${RUNNER_DIR}/supervisor.py']+sys.argv[1:]`,
  "exec(compile(open(sys.argv[0]).read(),sys.argv[0],'exec'),{'__name__':'__main__','__file__':sys.argv[0]})",
].join('\n');

/**
 * The container's command in a foreign image: the image's interpreter running the
 * bootstrap, then the supervisor's arguments. Node's supervisor serves both kinds
 * when the image has node; an image with only python3 gets the Python supervisor.
 */
export function foreignSupervisorCommand(options: ForeignSupervisorOptions): string[] {
  const { tools } = options;
  const args = [
    '--kind',
    options.kind,
    '--uid',
    String(options.programUid),
    ...(options.nproc === undefined ? [] : ['--nproc', String(Math.floor(options.nproc))]),
    ...(tools.python ? ['--python', tools.python] : []),
    ...(tools.bash ? ['--bash', tools.bash] : []),
  ];
  if (tools.node) {
    return [
      tools.node,
      '--v8-pool-size=1',
      '-e',
      NODE_BOOTSTRAP,
      // The end of node's own options: the rest is the supervisor's (process.argv).
      '--',
      ...args,
      '--node',
      tools.node,
      '--node-path',
      tools.nodePath ?? '',
      ...(tools.prlimit ? ['--prlimit', tools.prlimit] : []),
    ];
  }
  if (!tools.python) throw new Error('an image without node and python3 cannot run cordon');
  if (options.kind !== 'python') throw new Error(`an image without node cannot boot a ${options.kind} runner`);
  // -I -S: the image's PYTHON* variables, user site and site-packages stay out of the root process.
  return [tools.python, '-I', '-S', '-u', '-c', PYTHON_BOOTSTRAP, ...args];
}

let bundle: Promise<Buffer> | undefined;

/**
 * The runner's files as the bootstrap reads them: a 4-byte big-endian length, then
 * JSON `{ name: source }`. Read once from this package (dist/runner, copied from
 * images/runtime/runner at build).
 */
export function runnerBundleFrame(): Promise<Buffer> {
  bundle ??= (async () => {
    const dir = await runnerSourceDir();
    const names = (await readdir(dir)).filter((name) => RUNNER_FILE_NAME.test(name)).sort();
    const files: Record<string, string> = {};
    for (const name of names) files[name] = await readFile(new URL(name, dir), 'utf8');
    const json = Buffer.from(JSON.stringify(files));
    const length = Buffer.alloc(4);
    length.writeUInt32BE(json.length);
    return Buffer.concat([length, json]);
  })();
  return bundle;
}

async function runnerSourceDir(): Promise<URL> {
  // Built: dist/backend/foreign-image.js next to dist/runner. From source (core's own tests): the repository's copy.
  for (const candidate of ['../runner/', '../../../../images/runtime/runner/']) {
    const dir = new URL(candidate, import.meta.url);
    try {
      if ((await readdir(dir)).includes('supervisor.cjs')) return dir;
    } catch {
      // Not this layout.
    }
  }
  throw new Error(`cordon's runner files are missing from ${new URL('../runner/', import.meta.url).pathname}`);
}
