import fs from 'node:fs';

/**
 * Puts this process at the back of the CPU queue, for the drill's stand-ins of what runs on
 * other machines in production (the attacker, the receivers): their own CPU must not count
 * against the server they measure. They are started under `nice -n 19`, but nice ranks a
 * process only within its autogroup, and with autogroups on (Linux's default on desktop-style
 * kernels, and on these machines) each session, as each of these processes has, gets an
 * equal share of the CPUs whatever its nice: so the autogroup is set to 19 too.
 */
export function lowerOwnPriority() {
  try {
    fs.writeFileSync('/proc/self/autogroup', '19');
  } catch {
    // No autogroups (or no /proc): nice alone ranks it.
  }
}
