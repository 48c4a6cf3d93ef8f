/**
 * `qcs completion bash`: a bash completion script made from the program's own command tree, so
 * it never lists a command that does not exist. Subcommands and options complete at each level;
 * words that are not subcommands (ids, names, option values) are passed over.
 */
import type { Command } from 'commander';

interface Level { path: string; children: string[]; options: string[] }

function levels(cmd: Command, path: string, out: Level[]): Level[] {
  const children = cmd.commands.filter((c) => c.name() !== 'help').map((c) => c.name());
  const options = [...cmd.options.flatMap((o) => [o.long, o.short]).filter((f): f is string => f !== undefined), '--help'];
  out.push({ path, children, options });
  for (const c of cmd.commands) levels(c, `${path} ${c.name()}`, out);
  return out;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function bashCompletion(program: Command, names: string[]): string {
  // The root's key is "_" (bash refuses an empty key); a level's key is "_ volume metadata".
  const all = levels(program, '_', []);
  const entries = (pick: (l: Level) => string[]) => all.map((l) => `  [${quote(l.path)}]=${quote(pick(l).join(' '))}`).join('\n');
  return `# bash completion for ${names.join(', ')}: source it, or save it in /etc/bash_completion.d/
declare -gA _qcs_children=(
${entries((l) => l.children)}
)
declare -gA _qcs_options=(
${entries((l) => l.options)}
)
_qcs_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path=_ i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    if [[ " \${_qcs_children[$path]} " == *" $w "* ]]; then path="$path $w"; fi
  done
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "\${_qcs_options[$path]}" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "\${_qcs_children[$path]}" -- "$cur"))
  fi
}
complete -F _qcs_complete ${names.join(' ')}
`;
}
