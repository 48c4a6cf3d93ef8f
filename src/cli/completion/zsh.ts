/**
 * `qcs completion zsh`: the same levels as bash, with each subcommand's and option's description
 * shown beside it (zsh's _describe). Works sourced after compinit (`source <(qcs completion zsh)`)
 * or saved as `_qcs` in a directory of $fpath (the #compdef line; compinit autoloads it).
 */
import { quote, type Level, type Word } from './command-table.js';

/** `word:description` as _describe reads it: a colon in the word is escaped, the description is one line. */
const described = (w: Word): string => quote(`${w.word.replace(/:/g, '\\:')}:${w.description.split('\n')[0] ?? ''}`);

function arrays(table: Level[]): string {
  // One array per level and kind (zsh has no arrays of arrays); _qcs_level maps a path to its number.
  const index = table.map((l, i) => `  ${quote(l.path)} ${i}`).join('\n');
  const perLevel = table.map((l, i) => [
    `typeset -ga _qcs_sub_${i}=(${l.children.map(described).join(' ')})`,
    `typeset -ga _qcs_opt_${i}=(${l.options.map(described).join(' ')})`,
  ].join('\n')).join('\n');
  return `typeset -gA _qcs_level=(\n${index}\n)\n${perLevel}`;
}

export function zshCompletion(table: Level[], names: string[]): string {
  return `#compdef ${names.join(' ')}
# zsh completion for ${names.join(', ')}: source <(qcs completion zsh) after compinit, or save as _qcs in a directory of $fpath
${arrays(table)}
_qcs() {
  local level=_ w i n
  # Words before the cursor that name a subcommand of the level reached so far descend into it;
  # the others (ids, names, option values) are passed over.
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    [[ $w == -* ]] && continue
    (( \${+_qcs_level[$level $w]} )) && level="$level $w"
  done
  n=\${_qcs_level[$level]}
  if [[ \${words[CURRENT]} == -* ]]; then
    _describe -t options option _qcs_opt_$n
  else
    _describe -t commands command _qcs_sub_$n
  fi
}
if [[ \${funcstack[1]} == _qcs ]]; then _qcs "$@"; else compdef _qcs ${names.join(' ')}; fi
`;
}
