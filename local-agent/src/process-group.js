// Process-group control. Each engine replica is started as the leader of its own
// group (detached spawn), so stopping it reaches every process it forked: vLLM leaves
// GPU-holding workers behind when only the parent is signalled.

import { readdirSync, readFileSync } from 'node:fs';

const HAS_PROC = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

/** Pids of live (non-zombie) processes in group `pgid`. Without /proc: [pgid] while signalable. */
export function groupMembers(pgid) {
  if (!HAS_PROC) {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch (error) {
      return error.code === 'EPERM' ? [pgid] : [];
    }
  }
  const members = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = processStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') members.push(Number(entry));
  }
  return members;
}

/** True when the process exists and is not a zombie. */
export function isAlive(pid) {
  if (HAS_PROC) {
    const stat = processStat(pid);
    return !!stat && stat.state !== 'Z' && stat.state !== 'X';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

function processStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses: fields resume after the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0], pgrp: Number(rest[2]) };
  } catch {
    return null;
  }
}

function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * SIGTERM to the whole group, then SIGKILL to whatever is left after `graceMs`.
 * Resolves once no live process remains in the group (or after a last bounded wait).
 */
export async function terminateGroup(pgid, graceMs, pollMs = 25) {
  if (!pgid || groupMembers(pgid).length === 0) return { killed: false };
  signalGroup(pgid, 'SIGTERM');
  const termDeadline = Date.now() + graceMs;
  while (Date.now() < termDeadline) {
    if (groupMembers(pgid).length === 0) return { killed: false };
    await sleep(Math.min(pollMs, Math.max(1, termDeadline - Date.now())));
  }
  signalGroup(pgid, 'SIGKILL');
  const killDeadline = Date.now() + 5000;
  while (Date.now() < killDeadline && groupMembers(pgid).length) await sleep(pollMs);
  return { killed: true };
}

/** Last resort when the agent itself exits: synchronous, no grace. */
export function killGroupNow(pgid) {
  if (pgid) signalGroup(pgid, 'SIGKILL');
}

/** The command line of a live process, or null. */
export function commandLine(pid) {
  if (!HAS_PROC) return null;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
}

/**
 * Engine groups a previous agent run left behind (the agent was SIGKILLed, or the box's
 * supervisor restarted it): still-running group leaders from its status file whose
 * command line is the one it started, so a reused pid is never touched.
 * @param {{pid: number|null, port: number, command?: string[]|null}[]} previous
 */
export function leftoverGroups(previous) {
  const found = [];
  for (const r of previous) {
    if (!r.pid || !r.command?.length || !isAlive(r.pid)) continue;
    const stat = processStat(r.pid);
    const cmd = commandLine(r.pid);
    if (stat?.pgrp !== r.pid || !cmd) continue;
    // The shim or interpreter may differ in argv[0]; the engine arguments must match.
    const tail = r.command.slice(1).join('\0');
    if (cmd.join('\0').endsWith(tail)) found.push(r.pid);
  }
  return found;
}
