"""``gamevm verify``: check a signed module manifest against a disc or a directory
(docs/signing.md).

Exit status: 0 the signature and every module check; 1 a check failed (signature,
a module missing, different or extra); 2 usage, key or input errors.
"""

from __future__ import annotations


def run(args) -> int:
    from ..link import signing

    if args.dir and args.image:
        args.parser.error("verify checks one place: a disc image or --dir DIR, not both")
    report = signing.verify(args.signed, args.key, directory=args.dir, image=args.image)
    if not args.quiet:
        doc = report.doc
        print(f"gamevm verify: {args.signed}: signature OK ({report.key_id}, {doc['target']}); "
              f"{len(report.checked)} file(s) match in the {report.against}: "
              + ", ".join(report.checked))
    return 0


def register(sub, cli) -> None:
    p = sub.add_parser(
        "verify", help="check a signed module manifest against a disc image or directory",
        description="Check the Ed25519 signature of a signed module manifest with the public "
                    "key, then every module it lists (size and SHA-256) in a disc image or a "
                    "directory (default: the signed manifest's directory); modules missing, "
                    "different or not listed are named. Exit status: 0 OK, 1 a check failed, "
                    "2 usage, key or input error.")
    p.add_argument("signed", metavar="SIGNED", help="the signed manifest (gamevm sign -o)")
    p.add_argument("image", nargs="?", metavar="IMAGE", help="an ISO 9660 disc image")
    p.add_argument("--key", "-k", required=True, metavar="PUB.pem",
                   help="the Ed25519 public key (KEY.pub.pem)")
    p.add_argument("--dir", metavar="DIR", help="a directory of the modules")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing when it checks")
    p.set_defaults(func=run, parser=p)
