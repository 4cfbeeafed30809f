"""Demo application: converts an internationalised domain name with idna."""

import idna


def main() -> None:
    name = "bücher.example"
    print(f"{name} -> {idna.encode(name).decode('ascii')}")


if __name__ == "__main__":
    main()
