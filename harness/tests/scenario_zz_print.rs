use drdrill::scenario;
use std::path::Path;
#[test]
fn print() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scenarios");
    let text = std::fs::read_to_string(dir.join("az-power-interruption.yaml")).unwrap();
    let cases = [
        ("traffic:\n", "trafic:\n"), ("  rate: 50/s", "  rate: [50/s"), ("  rate: 50/s", "  rate: abc"),
        ("  timeout: 1s", "  timeout: 5"), ("  write_ratio: 0.5", "  write_ratio: 1.5"),
        ("  connection: { policy: fresh }", "  connection: { policy: keep-alive }"),
        ("  connection: { policy: fresh }", "  connection: { policy: fresh, max_age: 3s }"),
        ("  template_file: fis/az-power-interruption.json", "  template_file: fis/az-power-interruption.json\n  template_id: EXT1"),
        ("fis/az-power-interruption.json", "fis/missing.json"),
        ("    duration: PT1M\n", ""), ("    duration: PT1M", "    duration: PT1M\n    zz: 1"),
        ("name: az-power-interruption\n", ""), ("  load_balancer: drill-alb\n", ""),
        ("  lost_writes: 0", "  lost_writes: -1"), ("  lost_writes: 0", "  lost_writes: 0\n  lost_writes: 1"),
        ("  account", "  account"), ("name: az-power-interruption", "name: [a, b]"),
        ("  expect_status: [200, 201, 204]", "  expect_status: [200, 700]"),
        ("  recovery_timeout: 60s", "  recovery_timeout: 1s"),
        ("scheme: http", "scheme: ftp"),
        ("  local: ../../../../localstack/stacks/multi-az.yaml", "  local: x\n  aws: {region: a, account_ids: []}"),
    ];
    for (a, b) in cases {
        let t = text.replacen(a, b, 1);
        match scenario::load_str(&Path::new("tests/fixtures/scenarios/x.yaml"), &t) {
            Ok(_) => println!("OK"),
            Err(e) => println!("{e}"),
        }
    }
    println!("{}", scenario::load_str(Path::new("e.yaml"), "").unwrap_err());
    println!("{}", scenario::load_str(Path::new("e.yaml"), "- 1").unwrap_err());
    println!("{}", serde_json::to_string_pretty(&scenario::json_schema()).unwrap());
}
