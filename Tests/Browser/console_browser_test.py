#!/usr/bin/env python3
"""The web console in a real browser: Debian's Chromium, driven by Selenium through the system
chromedriver, against real nodes on 127.0.0.1 — HQ (over HTTPS) and one branch, syncing over
mutual TLS.

    BRANCHDESK_BIN=.build/debug/branchdesk python3 Tests/Browser/console_browser_test.py

(`scripts/test.sh` runs it after `swift test`.)
Each check takes screenshots at desktop and phone widths. A failed run keeps them (and the
nodes' logs) and prints where; BRANCHDESK_SCREENSHOTS=DIR keeps them always. Every process it
starts is stopped at the end."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

BIN = os.environ.get("BRANCHDESK_BIN") or sys.exit("set BRANCHDESK_BIN to the branchdesk binary")
WORK = tempfile.mkdtemp(prefix="branchdesk-browser-")
SHOTS = os.environ.get("BRANCHDESK_SCREENSHOTS") or os.path.join(WORK, "screenshots")
os.makedirs(SHOTS, exist_ok=True)
HQ, BRANCH, CERTS = (os.path.join(WORK, name) for name in ("hq", "sh-pudong-012", "certs"))
PASSWORD = {"王芳": "门店密码2026", "店长": "店长密码2026", "总部": "总部密码2026", "李娜": "李娜密码2026"}
processes = []
drivers = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def branchdesk(*arguments, stdin=None, check=True):
    result = subprocess.run(
        [BIN, *arguments], input=stdin, capture_output=True, text=True, timeout=120,
        env={**os.environ, "BRANCHDESK_USER": "王芳"})
    if check and result.returncode != 0:
        raise AssertionError(f"branchdesk {' '.join(arguments)} exited {result.returncode}: {result.stderr}")
    return result.stdout


def serve(name, data, *arguments, env=None):
    log = open(os.path.join(WORK, f"{name}.log"), "w")
    process = subprocess.Popen([BIN, "serve", "--data", data, *arguments], stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, **(env or {})})
    processes.append(process)
    return process


def wait_until(what, condition, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if condition():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def ticket(data, number):
    return json.loads(branchdesk("ticket", "show", "--data", data, number, "--json"))


def browser():
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--ignore-certificate-errors",
                     "--window-size=1366,900", "--lang=zh-CN"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(0)
    drivers.append(driver)
    return driver


def shoot(driver, name):
    """Screenshots of the whole page at desktop and phone widths."""
    for width, label in ((1366, "desktop"), (390, "narrow")):
        driver.set_window_size(width, 900)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(max(height, 600), 6000))
        driver.save_screenshot(os.path.join(SHOTS, f"{name}-{label}.png"))
    driver.set_window_size(1366, 900)


def log_in(driver, base, name, password=None):
    driver.get(base + "/login")
    driver.find_element(By.NAME, "name").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(password or PASSWORD[name])
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
    WebDriverWait(driver, 20).until(lambda d: "/login" not in d.current_url or d.find_elements(By.CSS_SELECTOR, ".error"))


def log_out(driver):
    driver.find_element(By.CSS_SELECTOR, "form[action='/logout'] button").click()
    WebDriverWait(driver, 20).until(lambda d: "/login" in d.current_url)


def submit(driver, form_selector, fields=None, button=None):
    """Fills and submits the form of the current page that `form_selector` finds; waits for the next page."""
    form = driver.find_element(By.CSS_SELECTOR, form_selector)
    details = driver.execute_script("return arguments[0].closest('details')", form)
    if details is not None:
        driver.execute_script("arguments[0].open = true", details)
    for name, value in (fields or {}).items():
        element = form.find_element(By.NAME, name)
        if element.tag_name == "select":
            Select(element).select_by_value(value)
        else:
            element.clear()
            element.send_keys(value)
    old = driver.find_element(By.TAG_NAME, "html")
    (form.find_element(By.CSS_SELECTOR, button) if button else form.find_element(By.CSS_SELECTOR, "button[type=submit]:not(.secondary)")).click()
    WebDriverWait(driver, 20).until(lambda d: d.find_element(By.TAG_NAME, "html") != old)


def step(driver, number, transition, reason=None):
    fields = {"reason": reason} if reason else None
    submit(driver, f"form[action='/tickets/{number}/transition']:has(input[value='{transition}'])", fields)


def text(driver):
    return driver.find_element(By.TAG_NAME, "body").text


def set_up():
    hq_port, hq_web, branch_web = free_port(), free_port(), free_port()
    branchdesk("certs", "create-ca", "--certs", CERTS)
    branchdesk("certs", "create-node", "--certs", CERTS, "--node-id", "hq", "--role", "hq")
    branchdesk("certs", "create-node", "--certs", CERTS, "--node-id", "sh-pudong-012", "--role", "branch")
    branchdesk("init", "--data", HQ, "--node-id", "hq", "--role", "hq", "--certs", CERTS, "--time-zone", "Asia/Shanghai")
    branchdesk("init", "--data", BRANCH, "--node-id", "sh-pudong-012", "--role", "branch", "--code", "SH012", "--certs", CERTS,
               "--hq", f"127.0.0.1:{hq_port}", "--time-zone", "Asia/Shanghai")
    branchdesk("peers", "add", "--data", HQ, "sh-pudong-012")
    for data, name, role in ((HQ, "总部", "hq-officer"), (BRANCH, "王芳", "clerk"), (BRANCH, "店长", "supervisor"),
                             (BRANCH, "李娜", "clerk")):
        branchdesk("users", "add", "--data", data, name, "--role", role, stdin=PASSWORD[name] + "\n")
    # HQ's console over HTTPS, with a certificate the operator would supply (here self-signed).
    key, certificate = os.path.join(WORK, "web.key"), os.path.join(WORK, "web.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", certificate, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    serve("hq", HQ, "--listen", f"127.0.0.1:{hq_port}", "--web", f"127.0.0.1:{hq_web}",
          env={"BRANCHDESK_WEB_TLS_CERT": certificate, "BRANCHDESK_WEB_TLS_KEY": key})
    serve("branch", BRANCH, "--web", f"127.0.0.1:{branch_web}")
    hq_base, branch_base = f"https://127.0.0.1:{hq_web}", f"http://127.0.0.1:{branch_web}"
    for port in (hq_web, branch_web):
        wait_until(f"the console on {port}", lambda: socket.create_connection(("127.0.0.1", port), 1).close() is None)
    return hq_base, branch_base


def check_whole_process(clerk, branch, supervisor):
    """A clerk takes a complaint and handles it to close and reopen; a supervisor approves."""
    log_in(clerk, branch, "王芳")
    clerk.get(branch + "/tickets/new")
    submit(clerk, "form[action='/tickets']", {
        "channel": "phone", "customer": "张三", "phone": "138 0013 8000", "category": "product", "kind": "claim",
        "severity": "2", "title": "手机购买三天后频繁死机，客户要求换新机并赔偿往返交通费用",
        "statement": "客户称三天前在本店购买手机，此后每天死机重启十余次，已影响工作，要求更换新机并赔偿两次往返门店的交通费。",
        "request": "换新机，赔偿交通费", "department": "售后部"})
    number = clerk.current_url.rsplit("/", 1)[1]
    assert number.startswith("SH012-"), clerk.current_url
    shoot(clerk, "ticket-new")
    step(clerk, number, "accept")
    submit(clerk, f"form[action='/tickets/{number}/investigate']", {
        "cause": "该批次手机固件存在缺陷，导致高负载下死机", "course": "客户购机后第二天开始频繁死机，门店检测复现",
        "responsible": "供应商固件问题，门店无责任", "conclusion": "投诉属实", "countermeasure": "为客户更换新机，报销交通费 40 元",
        "prevention": "同批次库存下架，等待固件更新"})
    step(clerk, number, "submit")
    assert ticket(BRANCH, number)["status"] == "awaiting-approval"
    assert not clerk.find_elements(By.CSS_SELECTOR, "input[value='approve']"), "a clerk is not offered approval"
    log_in(supervisor, branch, "店长")
    supervisor.get(f"{branch}/tickets/{number}")
    step(supervisor, number, "approve", "同意换新并报销交通费")
    assert ticket(BRANCH, number)["status"] == "approved"
    clerk.get(f"{branch}/tickets/{number}")
    submit(clerk, f"form[action='/tickets/{number}/reply']", {"message": "已为您更换新机，交通费 40 元将于三日内退回原支付账户。"})
    submit(clerk, f"form[action='/tickets/{number}/follow-up']", {"score": "4", "remark": "处理及时，满意", "then": "close"})
    assert ticket(BRANCH, number)["status"] == "closed"
    step(clerk, number, "reopen", "客户来电称新机仍有死机现象")
    shown = ticket(BRANCH, number)
    assert shown["round"] == 2 and shown["status"] != "closed", shown["status"]
    assert [line["by"] for line in shown["history"]].count("店长") == 1, "the approval is the supervisor's op"
    shoot(clerk, "ticket-reopened")
    return number


def check_hq_sees_it(hq, hq_base, number):
    """HQ's dashboard and report show the ticket after sync, and a bar links to the right list."""
    log_in(hq, hq_base, "总部")
    cookie = hq.get_cookie("bd_session")
    assert cookie and cookie["secure"] and cookie["httpOnly"], cookie
    wait_until("the ticket at HQ", lambda: ticket(HQ, number)["round"] == 2)
    hq.get(hq_base + "/dashboard")
    assert "sh-pudong-012" in text(hq)
    shoot(hq, "dashboard")
    hq.find_element(By.CSS_SELECTOR, "svg.chart a[href*='branch=sh-pudong-012'] rect").click()
    WebDriverWait(hq, 20).until(lambda d: "branch=sh-pudong-012" in d.current_url)
    assert number in text(hq), "the bar lists the branch's open tickets"
    hq.get(hq_base + "/dashboard")
    hq.find_element(By.CSS_SELECTOR, "table.dashboard tr.total a[href^='/?view=open']").click()
    WebDriverWait(hq, 20).until(lambda d: "view=open" in d.current_url)
    assert number in text(hq)
    month = time.strftime("%Y-%m", time.gmtime(time.time() + 8 * 3600))
    hq.get(f"{hq_base}/report?month={month}")
    assert number in text(hq), "the reopened ticket is listed as still open"
    shoot(hq, "report")


def check_hostile_title(clerk, branch, hq, hq_base):
    """A title made to run script renders as text at HQ."""
    hostile = '<script>window.pwned=1</script>"><img src=x onerror="window.pwned=2">'
    clerk.get(branch + "/tickets/new")
    submit(clerk, "form[action='/tickets']", {
        "channel": "walk-in", "customer": "李四", "phone": "010-6234 5678", "category": "service", "kind": "appeal",
        "severity": "1", "title": hostile, "statement": "店员态度恶劣"})
    number = clerk.current_url.rsplit("/", 1)[1]
    wait_until("the hostile ticket at HQ", lambda: ticket(HQ, number))
    for path in ("/?view=all", f"/tickets/{number}"):
        hq.get(hq_base + path)
        assert hq.execute_script("return window.pwned") is None, path
        assert hostile in text(hq), path
    shoot(hq, "hostile-title")
    return number


def check_conflict(clerk, branch, branch_node, number):
    """Concurrent edits while the link is down become a conflict, resolved from the page."""
    branch_node.terminate()
    branch_node.wait(20)
    branchdesk("ticket", "update", "--data", BRANCH, number, "--severity", "2")
    branchdesk("ticket", "update", "--data", HQ, number, "--severity", "3", "--by", "总部")
    port = int(branch.rsplit(":", 1)[1])
    node = serve("branch-again", BRANCH, "--web", f"127.0.0.1:{port}")
    wait_until("the conflict at the branch", lambda: ticket(BRANCH, number)["conflicts"])
    wait_until("the branch console", lambda: socket.create_connection(("127.0.0.1", port), 1).close() is None)
    log_in(clerk, branch, "王芳")
    clerk.get(f"{branch}/tickets/{number}")
    shoot(clerk, "conflict")
    # HQ's 3 won; the clerk chooses the branch's 2 instead.
    submit(clerk, f"form[action='/tickets/{number}/resolve']:has(input[name='value'][value='2'])")
    resolved = ticket(BRANCH, number)
    assert not resolved["conflicts"] and resolved["severity"] == 2, resolved["conflicts"]
    wait_until("the resolution at HQ", lambda: not ticket(HQ, number)["conflicts"])
    return node


def check_live_queue(hq, hq_base):
    """HQ's queue shows a ticket a sync brings, without a reload."""
    hq.get(hq_base + "/?view=all")
    hq.execute_script("window.sameDocument = true")
    number = branchdesk("ticket", "open", "--data", BRANCH, "--customer", "王五", "--phone", "139 1234 5678", "--channel", "phone",
                        "--category", "price", "--severity", "1", "--title", "会员折扣未生效，多收费用 120 元",
                        "--body", "结账时会员折扣未生效").strip()
    WebDriverWait(hq, 30).until(lambda d: number in text(d))
    assert hq.execute_script("return window.sameDocument") is True, "the page was not reloaded"
    shoot(hq, "queue-live")


def check_throttle(driver, branch):
    """Five wrong passwords lock the account, and the page says until when."""
    for _ in range(5):
        log_in(driver, branch, "李娜", "not-the-password")
        assert "wrong name or password" in text(driver) or "locked" in text(driver)
    log_in(driver, branch, "李娜")
    assert "locked until" in text(driver), text(driver)
    assert "/login" in driver.current_url
    shoot(driver, "throttled")


def main():
    failed = False
    try:
        hq_base, branch = set_up()
        clerk, supervisor, hq = browser(), browser(), browser()
        number = check_whole_process(clerk, branch, supervisor)
        check_hq_sees_it(hq, hq_base, number)
        hostile = check_hostile_title(clerk, branch, hq, hq_base)
        check_conflict(clerk, branch, processes[1], hostile)
        check_live_queue(hq, hq_base)
        check_throttle(supervisor, branch)
        print("browser tests passed: whole process, approval, dashboard and report at HQ, hostile title, conflict, live queue, throttle")
    except Exception:
        failed = True
        traceback.print_exc()
        for index, driver in enumerate(drivers):
            try:
                driver.save_screenshot(os.path.join(SHOTS, f"failure-{index}.png"))
            except Exception:
                pass
    finally:
        for driver in drivers:
            driver.quit()
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
        if failed:
            for name in os.listdir(WORK):
                if name.endswith(".log"):
                    print(f"--- {name}\n" + open(os.path.join(WORK, name)).read()[-4000:])
            print(f"screenshots and logs kept in {WORK}", file=sys.stderr)
        elif not os.environ.get("BRANCHDESK_SCREENSHOTS"):
            shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
