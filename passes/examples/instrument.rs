//! Instruments one bitcode file from the command line and prints its
//! fragment as JSON: for trying the passes on real code outside the driver.
//!
//! `cargo run -p lucc-passes --example instrument -- IN.bc OUT.bc SOURCE.c`

use std::path::Path;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, source] = args.as_slice() else {
        anyhow::bail!("usage: instrument IN.bc OUT.bc SOURCE.c");
    };
    let opts = lucc_passes::PassOptions { source: source.clone() };
    let fragment = lucc_passes::instrument_bitcode_file(Path::new(input), Path::new(output), &opts)?;
    println!("{}", serde_json::to_string_pretty(&fragment)?);
    Ok(())
}
