/**
 * `qcs completion bash`: subcommands and options complete at each level; words that are not
 * subcommands (ids, names, option values) are passed over.
 */
import { quote, type Level } from './command-table.js';

export function bashCompletion(table: Level[], names: string[]): string {
  // The root's key is "_" (bash refuses an empty key); a level's key is "_ volume metadata".
  const entries = (pick: (l: Level) => string[]) => table.map((l) => `  [${quote(l.path)}]=${quote(pick(l).join(' '))}`).join('\n');
  return `# bash completion for ${names.join(', ')}: source it, or save it in /etc/bash_completion.d/
declare -gA _qcs_children=(
${entries((l) => l.children.map((c) => c.word))}
)
declare -gA _qcs_options=(
${entries((l) => l.options.map((o) => o.word))}
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
