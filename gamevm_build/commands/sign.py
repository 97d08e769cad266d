"""``gamevm sign``: sign a disc's module manifest with Ed25519; make key pairs (docs/signing.md).

Exit status: 0 written; 2 usage, key or input errors (nothing is written then).
"""

from __future__ import annotations

import sys


def run(args) -> int:
    from ..link import signing

    if args.new_key:
        if args.key or args.sources or args.output:
            args.parser.error("sign --new-key KEY.pem makes a key pair and signs nothing; "
                              "sign with --key KEY.pem SOURCE... -o SIGNED")
        private, public, kid = signing.new_key(args.new_key, force=args.force)
        print(f"gamevm sign: new key {kid}: private key {private} (keep it secret, out of "
              f"the repository), public key {public}")
        return 0
    if not args.key or not args.sources or not args.output:
        args.parser.error("sign needs --key KEY.pem, what to sign (LAYOUT.json, a directory "
                          "or module files) and -o SIGNED; or --new-key KEY.pem")
    _data, doc = signing.sign_manifest(args.sources, args.key, args.output, target=args.target,
                                       table=args.table)
    if not args.quiet:
        n = len(doc["modules"])
        extra = " and the resident" if "resident" in doc else ""
        print(f"gamevm sign: {args.output}: {n} module(s){extra} for {doc['target']}, "
              f"signed with {doc['key_id']}", file=sys.stderr)
    return 0


def register(sub, cli) -> None:
    p = sub.add_parser(
        "sign", help="sign a disc's module manifest (Ed25519), or make a key pair",
        description="Write a signed module manifest: each module's file name on the disc, "
                    "size and SHA-256 of its bytes as shipped, the target and the key id, "
                    "signed with an Ed25519 private key. What to sign: the layout file of "
                    "`gamevm layout --manifest`, a directory of modules or module files. "
                    "--new-key KEY.pem makes a key pair (KEY.pem and KEY.pub.pem). Exit "
                    "status: 0 written, 2 usage, key or input error.")
    p.add_argument("sources", nargs="*", metavar="SOURCE",
                   help="layout.json, a directory of modules, or module files")
    p.add_argument("--key", "-k", metavar="KEY.pem", help="Ed25519 private key (PEM)")
    p.add_argument("-o", "--output", metavar="SIGNED",
                   help="the signed manifest to write (e.g. build/psx/game.gvmsig)")
    p.add_argument("--table", metavar="TABLE",
                   help="also write the console's trust table of the same modules, for "
                        "GameVMTrust (TABLE.c: as a C source to link into the resident)")
    p.add_argument("--target", type=cli.target_type, metavar="TARGET",
                   help="the console (default: the modules' own)")
    p.add_argument("--new-key", metavar="KEY.pem",
                   help="create an Ed25519 key pair: KEY.pem (private, mode 0600) and "
                        "KEY.pub.pem; signs nothing")
    p.add_argument("--force", action="store_true", help="with --new-key: replace existing keys")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    p.set_defaults(func=run, parser=p)
