// The built-in rules and profiles. The deny set is Loki Mode's defaults
// (rm -rf /, dd if=, mkfs, shutdown) plus their obvious siblings; it is part
// of every profile and config can only add to it.
import type { AutonomyMode } from '../../../common/src/vocab.js';
import type { RuleSpec } from './rules.js';

const SYSTEM_DIR_NAMES = ['bin', 'boot', 'dev', 'etc', 'home', 'lib', 'lib32', 'lib64', 'opt', 'proc', 'root', 'sbin', 'srv', 'sys', 'usr', 'var'];
const SYSTEM_DIRS = `/{${SYSTEM_DIR_NAMES.join(',')}}`;
/** The root, every system directory and the home directory, as one flat glob alternative. */
const ROOT_OR_SYSTEM = `{/,~,${SYSTEM_DIR_NAMES.map((d) => `/${d}`).join(',')}}`;
const DISKS = '/dev/{sd,hd,vd,xvd,nvme,mmcblk,disk/,mapper/,md,loop,dm-}*';

export const BUILTIN_DENY: readonly RuleSpec[] = [
  { id: 'builtin:rm-root', effect: 'deny', pattern: 'rm -r /', reason: 'recursive delete of the filesystem root', match: ['rm -rf /', 'rm -fr /*', 'sudo rm -r -f //'], not_match: ['rm -rf node_modules', 'rm -rf ./build'] },
  { id: 'builtin:rm-no-preserve-root', effect: 'deny', pattern: 'rm --no-preserve-root', reason: 'rm --no-preserve-root exists only to delete /', match: ['rm -rf --no-preserve-root /tmp/x'] },
  { id: 'builtin:rm-home', effect: 'deny', pattern: 'rm -r ~', reason: 'recursive delete of the home directory', match: ['rm -rf ~', 'rm -rf ~/'] },
  { id: 'builtin:rm-system-dir', effect: 'deny', pattern: `rm -r ${SYSTEM_DIRS}`, reason: 'recursive delete of a system directory', match: ['rm -rf /usr', 'rm -rf /etc/'], not_match: ['rm -rf /tmp/build'] },
  { id: 'builtin:rm-parent', effect: 'deny', pattern: 'rm -r {..,../..,../../..}', reason: 'recursive delete of a directory above the working directory' },
  { id: 'builtin:rimraf-root', effect: 'deny', pattern: `{rimraf,del,del-cli,trash,trash-put} ${ROOT_OR_SYSTEM}`, reason: 'recursive delete of the filesystem root, home or a system directory', match: ['npx rimraf /', 'npx --yes rimraf ~'], not_match: ['npx rimraf dist'] },
  { id: 'builtin:find-root-delete', effect: 'deny', pattern: `find ${ROOT_OR_SYSTEM} -delete`, reason: 'find -delete over the filesystem root or a system directory', match: ['find / -name x -delete'], not_match: ["find . -name '*.log' -delete"] },
  { id: 'builtin:mv-root', effect: 'deny', pattern: `mv ${ROOT_OR_SYSTEM} *`, reason: 'moving the filesystem root or a system directory' },
  { id: 'builtin:dd-device', effect: 'deny', pattern: `dd of=${DISKS}`, reason: 'dd writing to a block device', match: ['dd if=/dev/zero of=/dev/sda bs=1M'], not_match: ['dd if=/dev/zero of=./disk.img bs=1M count=1'] },
  { id: 'builtin:dd-mem', effect: 'deny', pattern: 'dd of=/dev/{mem,kmem,port}', reason: 'dd writing to kernel memory' },
  { id: 'builtin:mkfs', effect: 'deny', pattern: 'mkfs*', reason: 'creating a filesystem destroys the device', match: ['mkfs.ext4 /dev/sdb1', 'mkfs -t xfs /dev/sdc'] },
  { id: 'builtin:mke2fs', effect: 'deny', pattern: '{mke2fs,mkswap,wipefs}', reason: 'formatting or wiping a device' },
  { id: 'builtin:partition-device', effect: 'deny', pattern: `{blkdiscard,sfdisk,sgdisk,gdisk,cfdisk,fdisk,parted} ${DISKS}`, reason: 'repartitioning or discarding a block device', match: ['blkdiscard /dev/sda', 'parted -s /dev/sda mklabel gpt'] },
  { id: 'builtin:shred-device', effect: 'deny', pattern: `shred ${DISKS}`, reason: 'shredding a block device' },
  { id: 'builtin:power', effect: 'deny', pattern: '{shutdown,reboot,halt,poweroff}', reason: 'powering the machine off or rebooting it', match: ['shutdown -h now', '/sbin/reboot'] },
  { id: 'builtin:init-runlevel', effect: 'deny', pattern: '{init,telinit} {0,6}', reason: 'switching to runlevel 0/6 halts or reboots' },
  { id: 'builtin:systemctl-power', effect: 'deny', pattern: 'systemctl {poweroff,reboot,halt,kexec,suspend,hibernate,emergency,rescue}', reason: 'powering the machine off or rebooting it' },
  { id: 'builtin:chmod-root', effect: 'deny', pattern: `chmod -R * ${ROOT_OR_SYSTEM}`, reason: 'recursive permission change of the filesystem root or a system directory', match: ['chmod -R 777 /', 'chmod --recursive a+rwx /'] },
  { id: 'builtin:chown-root', effect: 'deny', pattern: `{chown,chgrp} -R * ${ROOT_OR_SYSTEM}`, reason: 'recursive owner change of the filesystem root or a system directory' },
];

/** Commands that only read: allowed without approval in `read-only-auto` and `strict`. */
const READ_ONLY = [
  'ls', 'cat', 'head', 'tail', 'less', 'wc', 'pwd', 'echo', 'printf', 'tree', 'which', 'stat', 'file', 'du', 'df', 'grep', 'rg', 'ag', 'diff',
  'sort', 'uniq', 'cut', 'true', 'false', 'test', '[', 'date', 'whoami', 'id', 'uname', 'env', 'printenv', 'basename', 'dirname', 'realpath', 'jq',
  'git status', 'git log', 'git diff', 'git show', 'git branch', 'git rev-parse', 'git ls-files', 'git blame', 'git remote -v',
];

const BUILD_AND_TEST = ['npm test', 'npm run **', 'mocha', 'eslint', 'pytest', 'go test', 'cargo test', 'cargo build', 'make', 'tsc'];

export interface ProfileSpec {
  /** Decision when no rule matches a shell command. */
  default: 'allow' | 'ask' | 'deny';
  /** Decision for what cannot be resolved statically (eval, $(…) as a program, parse errors …). */
  fail_closed: 'ask' | 'deny';
  /** Decision for file writes/deletes inside the allowed paths. */
  writes: 'allow' | 'ask';
  /** Decision for commits. */
  commit: 'allow' | 'ask';
  /** Autonomy mode this profile forces; absent = the daemon-wide mode. */
  mode?: AutonomyMode;
  rules: RuleSpec[];
  description: string;
}

function allowAll(patterns: readonly string[], source: string): RuleSpec[] {
  return patterns.map((p) => ({ effect: 'allow' as const, pattern: p.endsWith('**') || p.split(' ').length === 1 ? p : `${p} **`, id: `${source}:allow:${p}` }));
}

export const BUILTIN_PROFILES: Readonly<Record<string, ProfileSpec>> = {
  default: {
    description: 'Everything not blocked is allowed; unresolvable commands ask.',
    default: 'allow',
    fail_closed: 'ask',
    writes: 'allow',
    commit: 'allow',
    rules: [
      { id: 'default:git-force-push', effect: 'ask', pattern: 'git push -f', reason: 'force-push rewrites shared history', match: ['git push --force origin main'], not_match: ['git push origin main'] },
      { id: 'default:git-force-push-lease', effect: 'ask', pattern: 'git push --force-with-lease*', reason: 'force-push rewrites shared history' },
    ],
  },
  strict: {
    description: 'Only read-only and build/test commands run without approval; unresolvable commands are denied.',
    default: 'ask',
    fail_closed: 'deny',
    writes: 'allow',
    commit: 'ask',
    rules: [...allowAll(READ_ONLY, 'strict'), ...allowAll(BUILD_AND_TEST, 'strict')],
  },
  'read-only-auto': {
    description: 'Read-only commands run automatically; anything that may write asks.',
    default: 'ask',
    fail_closed: 'ask',
    writes: 'ask',
    commit: 'ask',
    rules: [
      ...allowAll(READ_ONLY, 'read-only-auto'),
      ...allowAll(['find'], 'read-only-auto'),
      { id: 'read-only-auto:find-delete', effect: 'ask', pattern: 'find -delete' },
      { id: 'read-only-auto:find-exec', effect: 'ask', pattern: 'find {-exec,-execdir,-ok,-okdir}' },
      { id: 'read-only-auto:find-write', effect: 'ask', pattern: 'find {-fprint,-fprintf,-fls,-fprint0}' },
    ],
  },
};

/** Always denied for writes, even inside allowed paths (matched as path segments anywhere). */
export const DEFAULT_PROTECTED_PATHS: readonly string[] = ['.git/hooks', '.git/config', '.loki', '.github/workflows', '.gitlab-ci.yml', '.circleci', '.gitmodules'];
